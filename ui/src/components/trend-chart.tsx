// The trend of one analyte: its values over time as a line, the reference range as a band, abnormal points
// marked. Drawn in SVG (no chart library: small, styled by the stylesheet, readable by screen readers through
// its title, its description and the table of values next to it).
import { useId } from 'react';
import { useI18n } from '../i18n/i18n.js';
import type { TrendPoint } from '../lib/results.js';
import { isAbnormal } from '../lib/results.js';

const W = 640;
const H = 220;
const PAD = { top: 16, right: 24, bottom: 36, left: 56 };

function niceBounds(values: number[]): [number, number] {
  let min = Math.min(...values);
  let max = Math.max(...values);
  if (min === max) {
    const spread = Math.abs(min) * 0.1 || 1;
    min -= spread;
    max += spread;
  }
  const margin = (max - min) * 0.12;
  return [min - margin, max + margin];
}

export function TrendChart({
  label,
  points,
  low,
  high,
  unit,
  compact = false,
}: {
  label: string;
  points: TrendPoint[];
  low?: number;
  high?: number;
  unit?: string;
  compact?: boolean;
}) {
  const { t, fmt } = useI18n();
  const id = useId();
  if (points.length === 0) return <p className="muted">{t('results.noNumeric')}</p>;
  const width = compact ? 160 : W;
  const height = compact ? 40 : H;
  const pad = compact ? { top: 4, right: 4, bottom: 4, left: 4 } : PAD;
  const values = points.map((p) => p.value);
  const [min, max] = niceBounds([
    ...values,
    ...(low !== undefined ? [low] : []),
    ...(high !== undefined ? [high] : []),
  ]);
  const times = points.map((p) => Date.parse(p.date));
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const x = (time: number) =>
    t1 === t0
      ? pad.left + (width - pad.left - pad.right) / 2
      : pad.left + ((time - t0) / (t1 - t0)) * (width - pad.left - pad.right);
  const y = (value: number) => pad.top + (1 - (value - min) / (max - min)) * (height - pad.top - pad.bottom);
  const path = points
    .map((p, i) => `${i === 0 ? 'M' : 'L'}${x(Date.parse(p.date)).toFixed(1)},${y(p.value).toFixed(1)}`)
    .join(' ');
  const bandTop = high !== undefined ? y(Math.min(high, max)) : pad.top;
  const bandBottom = low !== undefined ? y(Math.max(low, min)) : height - pad.bottom;
  const last = points[points.length - 1]!;
  const description = t('results.trendDescription', {
    count: points.length,
    first: fmt.date(points[0]!.date),
    last: fmt.date(last.date),
    value: `${last.text}${unit ? ` ${unit}` : ''}`,
  });
  const ticks = compact ? [] : [min + (max - min) * 0.1, (min + max) / 2, max - (max - min) * 0.1];
  return (
    <svg
      className={compact ? 'trend trend-compact' : 'trend'}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-labelledby={`${id}-title ${id}-desc`}
    >
      <title id={`${id}-title`}>{t('results.trendOf', { label })}</title>
      <desc id={`${id}-desc`}>{description}</desc>
      {(low !== undefined || high !== undefined) && (
        <rect
          className="trend-band"
          x={pad.left}
          y={bandTop}
          width={width - pad.left - pad.right}
          height={Math.max(0, bandBottom - bandTop)}
        />
      )}
      {!compact &&
        ticks.map((v) => (
          <g key={v}>
            <line className="trend-grid" x1={pad.left} x2={width - pad.right} y1={y(v)} y2={y(v)} />
            <text className="trend-axis" x={pad.left - 8} y={y(v) + 4} textAnchor="end">
              {fmt.number(v, Math.abs(max - min) < 10 ? 1 : 0)}
            </text>
          </g>
        ))}
      <path className="trend-line" d={path} fill="none" />
      {points.map((p) => (
        <circle
          key={p.observationId + p.date}
          className={isAbnormal(p.flag) ? 'trend-point trend-point-abnormal' : 'trend-point'}
          cx={x(Date.parse(p.date))}
          cy={y(p.value)}
          r={compact ? 2.5 : 4.5}
        >
          <title>{`${fmt.dateTime(p.date)} : ${p.text}${unit ? ` ${unit}` : ''}`}</title>
        </circle>
      ))}
      {!compact && (
        <>
          <text className="trend-axis" x={pad.left} y={height - 10} textAnchor="start">
            {fmt.date(points[0]!.date)}
          </text>
          {points.length > 1 && (
            <text className="trend-axis" x={width - pad.right} y={height - 10} textAnchor="end">
              {fmt.date(last.date)}
            </text>
          )}
          {unit && (
            <text className="trend-axis" x={8} y={pad.top + 4} textAnchor="start">
              {unit}
            </text>
          )}
        </>
      )}
    </svg>
  );
}
