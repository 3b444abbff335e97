import { DateTime } from 'luxon';
import { Random, deviceSeed } from './random.js';

/** One simulated device: its Sluice id, profile, and a model producing its next telemetry. */
export interface SimulatedDevice {
  id: string;
  profile: string;
  /** The telemetry at simulated time `t` (ms), `dt` ms after the previous call. Values only; the caller adds `ts`. */
  step(t: number, dt: number): Record<string, unknown>;
}

export interface HomeOptions {
  seed: number;
  devices: number;
  /** IANA timezone of the household: schedules follow local time. */
  timezone: string;
}

/** Local clock facts the models share: hour of day (fractional) and whether people are home. */
function local(t: number, zone: string): { hour: number; weekday: number; day: number } {
  const d = DateTime.fromMillis(t, { zone });
  return { hour: d.hour + d.minute / 60, weekday: d.weekday, day: Math.floor(d.toMillis() / 86_400_000) };
}

function someoneHome(hour: number, weekday: number): boolean {
  return weekday >= 6 || hour < 7.5 || hour >= 17.5;
}

const fix = (n: number, decimals: number) => Number(n.toFixed(decimals));

type Model = (rng: Random, zone: string) => (t: number, dt: number) => Record<string, unknown>;

/** A thermostat following a day schedule; the room drifts toward the setpoint while heating. */
const thermostat: Model = (rng, zone) => {
  let temp = 19 + rng.between(0, 1);
  return (t, dt) => {
    const { hour, weekday } = local(t, zone);
    const setpoint = (hour >= 6 && hour < 8) || (hour >= 17 && hour < 22.5) || (weekday >= 6 && hour >= 8 && hour < 22.5) ? 21 : hour >= 22.5 || hour < 6 ? 16 : 17;
    const heating = temp < setpoint - 0.2;
    const minutes = dt / 60_000;
    temp += (heating ? 0.05 : -0.02) * minutes + rng.noise(0.05);
    temp = Math.min(26, Math.max(12, temp));
    return { temperature: fix(temp, 2), setpoint_heat: setpoint, humidity: fix(45 + rng.noise(5), 1), heating, mode: 'heat' };
  };
};

/** A radiator valve opening in proportion to how far the room is below its setpoint. */
const radiatorValve: Model = (rng, zone) => {
  let temp = 18 + rng.between(0, 1);
  let battery = 100;
  return (t, dt) => {
    const { hour } = local(t, zone);
    const setpoint = hour >= 6 && hour < 22 ? 20 : 16;
    const demand = Math.max(0, Math.min(100, (setpoint - temp) * 60));
    temp += ((demand / 100) * 0.06 - 0.02) * (dt / 60_000) + rng.noise(0.04);
    battery = Math.max(5, battery - dt / 86_400_000 / 3);
    return { temperature: fix(temp, 1), setpoint_heat: setpoint, valve_position: Math.round(demand), window_open: false, battery: Math.round(battery), mode: 'heat' };
  };
};

/** A light on in the evening while someone is home, warm and a little dimmer late. */
const light: Model = (rng, zone) => {
  let offAt = 23;
  let lastDay = -1;
  return (t) => {
    const { hour, weekday, day } = local(t, zone);
    if (day !== lastDay) {
      lastDay = day;
      offAt = 22 + rng.between(0, 1.5);
    }
    const on = someoneHome(hour, weekday) && ((hour >= 17.5 && hour < offAt) || (hour >= 6.5 && hour < 7.5));
    return on ? { on, brightness: hour >= 21.5 ? 40 : 80, color_temperature: hour >= 21 ? 2200 : 2700 } : { on };
  };
};

/** A fridge-freezer: compressor cycles hold the cooler at 3–5 °C; door openings warm it; energy accumulates. */
const fridge: Model = (rng, zone) => {
  let cooler = 4;
  let freezer = -18;
  let compressor = false;
  let energy = 100 + rng.between(0, 50); // kWh since the fridge was new
  return (t, dt) => {
    const { hour, weekday } = local(t, zone);
    const minutes = dt / 60_000;
    const doorOpen = someoneHome(hour, weekday) && hour >= 7 && hour < 22 && rng.chance(0.03 * Math.min(minutes, 10));
    if (cooler > 5) compressor = true;
    if (cooler < 3) compressor = false;
    cooler += ((compressor ? -0.12 : 0.04) * minutes) + (doorOpen ? 0.6 : 0) + rng.noise(0.03);
    freezer += ((compressor ? -0.15 : 0.05) * minutes) + rng.noise(0.05);
    freezer = Math.min(-15, Math.max(-21, freezer));
    const power = compressor ? 85 + rng.noise(5) : 1.5;
    energy += (power * dt) / 3_600_000 / 1000;
    return {
      cooler: { temperature: fix(cooler, 1), setpoint: 4, door_open: doorOpen },
      freezer: { temperature: fix(freezer, 1), setpoint: -18, door_open: false },
      power: fix(power, 1),
      energy: fix(energy, 3),
    };
  };
};

/** A plug under a washing machine: a cycle most evenings; its energy counter resets once (a firmware update). */
const smartPlug: Model = (rng, zone) => {
  let energy = 40 + rng.between(0, 10);
  let cycleLeft = 0; // ms
  let days = 0;
  let lastDay = -1;
  let startAt = 19;
  return (t, dt) => {
    const { hour, day } = local(t, zone);
    if (day !== lastDay) {
      lastDay = day;
      days++;
      startAt = rng.chance(0.6) ? 18 + rng.between(0, 3) : 99;
      // On the third simulated day the counter starts again from 0, as after a firmware update.
      if (days === 3) energy = 0;
    }
    if (cycleLeft <= 0 && hour >= startAt && hour < startAt + dt / 3_600_000 + 0.01) cycleLeft = 90 * 60_000;
    const running = cycleLeft > 0;
    cycleLeft -= dt;
    const power = running ? 400 + rng.between(0, 1800) : 0.4;
    energy += (power * dt) / 3_600_000 / 1000;
    const voltage = 230 + rng.noise(3);
    return { on: true, power: fix(power, 1), energy: fix(energy, 3), voltage: fix(voltage, 1), current: fix(power / voltage, 3) };
  };
};

/** A smoke and CO alarm: quiet, with its weekly self-test on Sunday at 10:00. */
const smokeAlarm: Model = (rng, zone) => {
  let battery = 100 - Math.floor(rng.between(0, 10));
  return (t, dt) => {
    const { hour, weekday } = local(t, zone);
    battery = Math.max(0, battery - dt / (7 * 86_400_000));
    const testing = weekday === 7 && hour >= 10 && hour < 10 + Math.max(dt / 3_600_000, 1 / 60);
    return { smoke_state: 'normal', co_state: 'normal', test_in_progress: testing, battery: Math.round(battery), battery_low: battery < 15 };
  };
};

/** A front-door lock: unlocked when people leave or come home, by one of two household members. */
const doorLock: Model = (rng, zone) => {
  let battery = 90;
  return (t, dt) => {
    const { hour, weekday } = local(t, zone);
    const h = dt / 3_600_000;
    const leaving = weekday < 6 && ((hour >= 7.5 && hour < 7.5 + h) || (hour >= 17.5 && hour < 17.5 + h));
    battery = Math.max(0, battery - dt / (14 * 86_400_000));
    const reading: Record<string, unknown> = { locked: !leaving, jammed: false, battery: Math.round(battery) };
    // [PRIV-2] never stored by the door-lock profile; sent so the simulator exercises the rule.
    if (leaving) reading.unlocked_by = rng.chance(0.5) ? 1 : 2;
    return reading;
  };
};

/** A hallway presence sensor: occupied while people are home and awake, with some randomness. */
const motion: Model = (rng, zone) => (t) => {
  const { hour, weekday } = local(t, zone);
  const awake = hour >= 6.5 && hour < 23;
  const occupied = someoneHome(hour, weekday) && awake && rng.chance(0.6);
  const daylight = Math.max(0, Math.sin(((hour - 6) / 14) * Math.PI));
  return { occupied, illuminance: Math.round(daylight * 400 + (occupied && !daylight ? 150 : 0)), battery: 88 };
};

/** The front-door contact: open for a moment when people leave or come home. */
const contact: Model = (_rng, zone) => (t, dt) => {
  const { hour, weekday } = local(t, zone);
  const h = dt / 3_600_000;
  const open = weekday < 6 && ((hour >= 7.5 && hour < 7.5 + h) || (hour >= 17.5 && hour < 17.5 + h));
  return { open, battery: 95 };
};

/** A coffee machine: one or two brews in the morning, one after lunch at weekends. */
const coffee: Model = (rng, zone) => {
  let brews = 1000 + Math.floor(rng.between(0, 200));
  return (t, dt) => {
    const { hour, weekday } = local(t, zone);
    const h = dt / 3_600_000;
    const morning = hour >= 7 && hour < 7 + Math.max(h, 0.25);
    const afternoon = weekday >= 6 && hour >= 14 && hour < 14 + Math.max(h, 0.25);
    const brewing = (morning || afternoon) && rng.chance(0.8);
    if (brewing) brews += 1;
    const state = brewing ? 'brewing' : hour >= 6.5 && hour < 9 ? 'ready' : 'standby';
    return { state, brews, power: brewing ? 1350 : state === 'ready' ? 25 : 0.5, water_tank_empty: false };
  };
};

const KINDS: Array<{ name: string; profile: string; model: Model }> = [
  { name: 'thermostat', profile: 'thermostat', model: thermostat },
  { name: 'light', profile: 'light', model: light },
  { name: 'fridge', profile: 'fridge', model: fridge },
  { name: 'plug', profile: 'smart-plug', model: smartPlug },
  { name: 'smoke-alarm', profile: 'smoke-co-alarm', model: smokeAlarm },
  { name: 'door-lock', profile: 'door-lock', model: doorLock },
  { name: 'presence', profile: 'motion-sensor', model: motion },
  { name: 'front-door', profile: 'contact-sensor', model: contact },
  { name: 'coffee', profile: 'coffee-machine', model: coffee },
  { name: 'radiator', profile: 'radiator-valve', model: radiatorValve },
];

/** The simulated household: `devices` devices cycling through every kind, each with its own seeded randomness. */
export function createHome(options: HomeOptions): SimulatedDevice[] {
  return Array.from({ length: options.devices }, (_, i) => {
    const kind = KINDS[i % KINDS.length]!;
    const rng = new Random(deviceSeed(options.seed, i));
    const step = kind.model(rng, options.timezone);
    return { id: `sim-${kind.name}-${Math.floor(i / KINDS.length) + 1}`, profile: kind.profile, step };
  });
}
