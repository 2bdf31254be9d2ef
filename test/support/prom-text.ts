// A strict reader of the Prometheus text exposition format 0.0.4, for the metrics tests: it
// throws on anything a scraper would reject or that breaks the conventions the docs promise
// (HELP and TYPE once, before the samples; counters end in _total; histogram buckets sorted,
// cumulative, ending with +Inf equal to _count; _sum and _count present).

export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface PromFamily {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  readonly samples: PromSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

function unescapeHelp(s: string): string {
  return s.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
}

function parseValue(s: string): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`bad value ${JSON.stringify(s)}`);
  return Number(s);
}

/** Parses `name{a="b",...} value` into its parts. */
function parseSample(line: string): PromSample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
  if (m === null) throw new Error(`bad sample line ${JSON.stringify(line)}`);
  const name = m[1] as string;
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    while (line[i] !== '}') {
      const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(i));
      if (lm === null) throw new Error(`bad label in ${JSON.stringify(line)}`);
      const key = lm[1] as string;
      i += lm[0].length;
      let value = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) throw new Error(`unterminated label value in ${JSON.stringify(line)}`);
        if (c === '"') break;
        if (c === '\\') {
          const e = line[i + 1];
          if (e === '\\') value += '\\';
          else if (e === '"') value += '"';
          else if (e === 'n') value += '\n';
          else throw new Error(`bad escape \\${e} in ${JSON.stringify(line)}`);
          i += 2;
        } else {
          value += c;
          i++;
        }
      }
      i++;
      if (key in labels) throw new Error(`label ${key} repeated in ${JSON.stringify(line)}`);
      labels[key] = value;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') throw new Error(`expected , or } in ${JSON.stringify(line)}`);
    }
    i++;
  }
  if (line[i] !== ' ') throw new Error(`expected a space before the value in ${JSON.stringify(line)}`);
  const rest = line.slice(i + 1).split(' ');
  if (rest.length > 2) throw new Error(`trailing fields in ${JSON.stringify(line)}`);
  return { name, labels, value: parseValue(rest[0] as string) };
}

/** The families of `text`, checked (see the file comment). */
export function parseExposition(text: string): Map<string, PromFamily> {
  if (text !== '' && !text.endsWith('\n')) throw new Error('the exposition must end with a line feed');
  const families = new Map<string, PromFamily & { samples: PromSample[]; help: string }>();
  const helps = new Map<string, string>();
  let current: (PromFamily & { samples: PromSample[] }) | undefined;
  for (const line of text.split('\n').slice(0, -1)) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (m === null) continue;
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`bad metric name ${name}`);
      if (kind === 'HELP') {
        if (helps.has(name)) throw new Error(`HELP of ${name} twice`);
        helps.set(name, unescapeHelp(rest));
      } else {
        if (families.has(name)) throw new Error(`TYPE of ${name} twice`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`bad type ${rest}`);
        current = { name, help: helps.get(name) ?? '', type: rest as PromFamily['type'], samples: [] };
        families.set(name, current);
      }
      continue;
    }
    const s = parseSample(line);
    if (current === undefined) throw new Error(`sample ${s.name} before any TYPE`);
    const base = current.name;
    const allowed = current.type === 'histogram' ? [`${base}_bucket`, `${base}_sum`, `${base}_count`] : [base];
    if (!allowed.includes(s.name)) throw new Error(`sample ${s.name} outside its family ${base}`);
    current.samples.push(s);
  }
  for (const f of families.values()) {
    if (!helps.has(f.name)) throw new Error(`no HELP for ${f.name}`);
    (f as { help: string }).help = helps.get(f.name) as string;
    if (f.type === 'counter' && !f.name.endsWith('_total')) throw new Error(`counter ${f.name} does not end in _total`);
    if (f.type === 'counter') for (const s of f.samples) if (!(s.value >= 0)) throw new Error(`counter ${f.name} is ${s.value}`);
    if (f.type === 'histogram') checkHistogram(f);
  }
  return families;
}

function seriesKey(labels: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'le').sort());
}

function checkHistogram(f: PromFamily): void {
  const series = new Map<string, { buckets: [number, number][]; sum?: number; count?: number }>();
  for (const s of f.samples) {
    const key = seriesKey(s.labels);
    const e = series.get(key) ?? { buckets: [] };
    series.set(key, e);
    if (s.name.endsWith('_bucket')) {
      const le = s.labels['le'];
      if (le === undefined) throw new Error(`${f.name}: bucket without le`);
      e.buckets.push([parseValue(le), s.value]);
    } else if (s.name.endsWith('_sum')) e.sum = s.value;
    else e.count = s.value;
  }
  for (const [key, e] of series) {
    if (e.sum === undefined || e.count === undefined) throw new Error(`${f.name}${key}: no _sum or _count`);
    const last = e.buckets[e.buckets.length - 1];
    if (last === undefined || last[0] !== Infinity) throw new Error(`${f.name}${key}: the last bucket is not +Inf`);
    if (last[1] !== e.count) throw new Error(`${f.name}${key}: +Inf bucket ${last[1]} != _count ${e.count}`);
    for (let i = 1; i < e.buckets.length; i++) {
      const [le0, c0] = e.buckets[i - 1] as [number, number];
      const [le1, c1] = e.buckets[i] as [number, number];
      if (!(le1 > le0)) throw new Error(`${f.name}${key}: le not increasing at ${le1}`);
      if (c1 < c0) throw new Error(`${f.name}${key}: buckets not cumulative at le=${le1}`);
    }
  }
}

/** The value of the sample `name` (a family's sample or a histogram's _count/_sum/_bucket) whose labels include `labels`. */
export function valueOf(families: Map<string, PromFamily>, name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}
