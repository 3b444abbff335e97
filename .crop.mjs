// Crops tall screenshots into viewport-sized tiles so they can be looked at (ad hoc, not committed).
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { chromium } from 'playwright-core';
const [, , file, width = '375', height = '1000', ...offsets] = process.argv;
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium-headless-shell', args: ['--no-sandbox', '--disable-gpu'] });
const page = await browser.newPage({ viewport: { width: Number(width), height: Number(height) } });
const data = readFileSync(file).toString('base64');
for (const off of offsets) {
  await page.setContent(`<body style="margin:0;overflow:hidden"><img style="position:absolute;top:-${off}px;left:0" src="data:image/png;base64,${data}"></body>`);
  await page.waitForLoadState('load');
  await page.screenshot({ path: `/tmp/web-crops/${basename(file, '.png')}-${off}.png` });
}
await browser.close();
