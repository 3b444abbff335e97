export { createHome, type SimulatedDevice, type HomeOptions } from './home.js';
export { runSimulation, type SimulateOptions, type SimulateDeps, type SimulationSummary } from './run.js';
export { Random, deviceSeed, seededRandom } from './random.js';
