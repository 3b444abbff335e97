/** A half-open span of time [start, end) in ms since the epoch: a policy's summary window, a scheduled run's. */
export interface TimeWindow {
  start: number;
  end: number;
}
