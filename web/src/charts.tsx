/**
 * Time-series and bar charts on uPlot (canvas: thousands of points stay
 * fast). Each chart has a text alternative: its title, axis names and a
 * short summary for screen readers.
 */
import { useEffect, useRef } from "preact/hooks";
import uPlot, { type AlignedData, type Options } from "uplot";
import "uplot/dist/uPlot.min.css";

export interface Series {
  label: string;
  values: (number | null)[];
  color?: string;
  /** Draw as bars instead of a line. */
  bars?: boolean;
  /** Draw points only (e.g. alarms on a score timeline). */
  points?: boolean;
  dash?: number[];
}

const palette = ["#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04"];

export function Chart(props: {
  title: string;
  x: number[];
  series: Series[];
  xLabel: string;
  yLabel: string;
  /** x values are epoch seconds */
  time?: boolean;
  height?: number;
  logY?: boolean;
  summary?: string;
}) {
  const container = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot>();

  useEffect(() => {
    const element = container.current;
    if (!element) return;
    const styles = getComputedStyle(document.documentElement);
    const ink = styles.getPropertyValue("--muted").trim() || "#666";
    const grid = styles.getPropertyValue("--line").trim() || "#ddd";
    const axis = { stroke: ink, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } };
    // Epochs and window numbers are counts: no tick at 1.5.
    const countsOnX = !props.time && props.x.every(Number.isInteger);
    const options: Options = {
      width: Math.max(240, element.clientWidth),
      height: props.height ?? 240,
      scales: { x: { time: Boolean(props.time) }, y: props.logY ? { distr: 3 } : {} },
      axes: [
        { ...axis, label: props.xLabel, ...(countsOnX ? { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 100_000] } : {}) },
        { ...axis, label: props.yLabel, size: 60 },
      ],
      legend: { live: true },
      series: [
        { label: props.xLabel },
        ...props.series.map((series, index) => ({
          label: series.label,
          stroke: series.color ?? palette[index % palette.length],
          width: series.points ? 0 : 2,
          dash: series.dash,
          fill: series.bars ? `${series.color ?? palette[index % palette.length]}99` : undefined,
          paths: series.bars ? uPlot.paths.bars!({ size: [0.8, 40] }) : series.points ? () => null : undefined,
          points: series.points ? { show: true, size: 7, fill: series.color ?? palette[index % palette.length] } : { show: false },
          spanGaps: !series.points,
        })),
      ],
    };
    const data = [props.x, ...props.series.map((series) => series.values)] as AlignedData;
    plot.current?.destroy();
    plot.current = new uPlot(options, data, element);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(240, element.clientWidth), height: props.height ?? 240 }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = undefined;
    };
  }, [props.series.length, props.logY, props.time, props.height, props.xLabel, props.yLabel, props.series.map((s) => s.label).join()]);

  // New points without rebuilding the chart (a live loss curve adds one per epoch).
  useEffect(() => {
    plot.current?.setData([props.x, ...props.series.map((series) => series.values)] as AlignedData);
  }, [props.x, props.series]);

  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      <div ref={container} role="img" aria-label={`${props.title}: ${props.summary ?? `${props.yLabel} by ${props.xLabel}, ${props.x.length} points`}`} />
    </figure>
  );
}
