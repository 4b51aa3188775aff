// "Adam, live": the update rule of Kingma & Ba (2015, Algorithm 1) with the numbers it is using right now,
// and per layer the sizes of m̂, √v̂ and the step. It shows why Adam's step is about lr: m̂/√v̂ is a ratio
// of a mean to a root-mean-square, so its size stays near or below 1 whatever the gradients' scale. Every number
// is the sidecar's (metrics.optimizer, computed by sidecar/optim/stats.ts); the panel computes none of them.
import { h, setText } from '../dom';
import { formatNumber } from '../markers';
import type { RunData } from '../runData';
import { thousands } from '../text';

interface Line {
  formula: string;
  values: HTMLElement;
}

/** Kingma & Ba (2015), arXiv:1412.6980; its PDF's section anchors. */
const PAPER = 'https://arxiv.org/pdf/1412.6980';
const SECTIONS = {
  algorithm: { href: `${PAPER}#section.2`, label: '§2, Algorithm 1' },
  trustRegion: { href: `${PAPER}#subsection.2.1`, label: '§2.1, the trust region' },
  biasCorrection: { href: `${PAPER}#section.3`, label: '§3, initialization bias correction' },
};
const paperLink = (s: { href: string; label: string }) => h('a', { href: s.href, target: '_blank', rel: 'noopener noreferrer', class: 'paper-link' }, s.label);

/** One sentence per row of the rule: what the numbers beside it are, and the paper's section it comes from. */
const EXPLAIN: Array<[string, { href: string; label: string }]> = [
  ['m is a running mean of the gradients: the direction of the step.', SECTIONS.algorithm],
  ['v is a running mean of the squared gradients: each parameter’s own scale.', SECTIONS.algorithm],
  ['m and v start at zero, so early on they are too small; dividing by 1 − β1ᵗ undoes that, and the divisor tends to 1 as t grows.', SECTIONS.biasCorrection],
  ['The same correction for v with β2: with β2 = 0.999 it is still only 0.63 at step 1,000.', SECTIONS.biasCorrection],
  ['Each parameter moves by lr times m̂/(√v̂ + ε), a mean over a root-mean-square, so about lr or less; ε only matters where √v̂ is as small as ε, and there it shrinks the step.', SECTIONS.trustRegion],
];

export class AdamPanel {
  readonly element: HTMLElement;
  private readonly title: HTMLElement;
  private readonly lines: Line[];
  private readonly variant: HTMLElement;
  private readonly tableBody: HTMLTableSectionElement;
  private readonly note: HTMLElement;

  constructor() {
    const formulas = [
      'm ← β1·m + (1 − β1)·g',
      'v ← β2·v + (1 − β2)·g²',
      'm̂ = m / (1 − β1ᵗ)',
      'v̂ = v / (1 − β2ᵗ)',
      'θ ← θ − lr · m̂ / (√v̂ + ε)',
    ];
    this.lines = formulas.map((formula) => ({ formula, values: h('span', { class: 'values' }) }));
    const explain = (i: number) => h('span', { class: 'explain' }, EXPLAIN[i][0], ' ', paperLink(EXPLAIN[i][1]));
    this.title = h('h2', { id: 'adam-title' }, 'Adam, live');
    this.variant = h('div', { class: 'variant' });
    this.tableBody = h('tbody');
    this.note = h('p', { class: 'caption' });
    this.element = h(
      'section',
      { class: 'card adam-card', 'aria-labelledby': 'adam-title', id: 'adam-panel' },
      this.title,
      h('div', { class: 'rule' }, ...this.lines.map((l, i) => h('div', { class: 'rule-line' }, h('code', { class: 'formula' }, l.formula), l.values, explain(i)))),
      this.variant,
      h(
        'table',
        { class: 'layers' },
        h('thead', {}, h('tr', {}, h('th', {}, 'layer'), h('th', { title: 'root mean square of the bias-corrected first moment' }, 'RMS m̂'), h('th', { title: 'root mean square of √v̂' }, 'RMS √v̂'), h('th', { title: 'root mean square of the parameter step' }, 'RMS step'), h('th', { title: 'RMS step / lr' }, 'step / lr'))),
        this.tableBody,
      ),
      this.note,
      h(
        'ul',
        { class: 'adam-charts', id: 'adam-charts' },
        h('li', {}, 'The chart “Adam’s trust region” is the RMS of each layer’s step over lr: the trust region, layer by layer. ', paperLink(SECTIONS.trustRegion)),
        h('li', {}, 'The heatmap |m̂/(√v̂+ε)| below shows it parameter by parameter: mass above the dashed 1 is a step larger than lr, mass far below it parameters whose √v̂ is near ε or whose gradients cancel. ', paperLink(SECTIONS.trustRegion)),
        h('li', {}, 'Its first columns show the bias correction at work: they sit near or below 1, where uncorrected m/√v would start about (1 − β1)/√(1 − β2) ≈ 3 times larger with the defaults. ', paperLink(SECTIONS.biasCorrection)),
        h('li', {}, 'The heatmap |update|/|parameter| is not from the paper: practitioners keep it near the dashed 1e-3; far above, the layer changes too fast, far below, it barely learns.'),
      ),
    );
  }

  update(run: RunData | undefined): void {
    if (!run) {
      setText(this.title, 'Adam, live');
      for (const l of this.lines) setText(l.values, '');
      setText(this.note, 'Start or open a run to see the rule with its current numbers.');
      this.tableBody.replaceChildren();
      return;
    }
    const c = run.config;
    const s = run.lastMetrics?.optimizer;
    const f = formatNumber;
    if (!s) {
      setText(this.title, 'Adam, live');
      for (const l of this.lines) setText(l.values, '');
      setText(this.note, 'The numbers appear with the first metrics of the run.');
      this.tableBody.replaceChildren();
      this.variant.hidden = true;
      return;
    }
    setText(this.title, `Adam, live — t = ${thousands(s.step)}`);
    setText(this.lines[0].values, `β1 = ${f(s.beta1)}`);
    setText(this.lines[1].values, `β2 = ${f(s.beta2)}`);
    setText(this.lines[2].values, `1 − β1ᵗ = ${s.biasCorrection1.toFixed(4)}`);
    setText(this.lines[3].values, `1 − β2ᵗ = ${s.biasCorrection2.toFixed(4)}`);
    setText(this.lines[4].values, `lr = ${f(s.learningRate)}, ε = ${f(s.epsilon)}`);
    const variants: Record<string, string> = {
      adam: c.weightDecay > 0 ? `Adam with L2 weight decay: g ← g + ${f(c.weightDecay)}·θ before the moments.` : '',
      adamw: `AdamW: decoupled weight decay, θ ← θ − lr·${f(c.weightDecay)}·θ beside the step.`,
      amsgrad: 'AMSGrad: v̂ is replaced by the running maximum of v̂, so the step never grows back.',
      sgd: c.nesterov
        ? `This run uses SGD with Nesterov momentum ${f(c.momentum)}: b ← μ·b + g; θ ← θ − lr·(g + μ·b). No m̂/√v̂ normalisation, so its steps scale with the gradients.`
        : `This run uses SGD with momentum ${f(c.momentum)}: b ← μ·b + g; θ ← θ − lr·b. No m̂/√v̂ normalisation, so its steps scale with the gradients.`,
      rmsprop: `This run uses RMSprop (α = ${f(c.alpha)}${c.momentum > 0 ? `, momentum ${f(c.momentum)}` : ''}): v ← α·v + (1 − α)·g²; θ ← θ − lr·g / (√v + ε). Adam without m and without bias correction; the columns show the momentum buffer as m̂ and √v as √v̂.`,
    };
    // The ablation of section 3: both corrections are 1, so the first steps are (1 − β1)/√(1 − β2) of Adam's.
    const text = !c.biasCorrection ? `Without bias correction (the ablation of Kingma & Ba, section 3): θ ← θ − lr·m / (√v + ε), so 1 − β1ᵗ and 1 − β2ᵗ read 1 and the first steps are about (1 − β1)/√(1 − β2) of Adam's. ${variants[c.optimizer]}` : variants[c.optimizer];
    setText(this.variant, text ?? '');
    this.variant.hidden = !text;

    const ratios = run.lastMetrics?.updateRatio ?? {};
    const layerNames = [...new Set([...Object.keys(s.layers), ...Object.keys(ratios)])];
    const rows = layerNames.map((name) => {
      const l = s.layers[name];
      const ratio = ratios[name] ?? NaN;
      return h(
        'tr',
        {},
        h('td', {}, name),
        h('td', {}, l ? f(l.mHatRms) : '–'),
        h('td', {}, l ? f(l.sqrtVHatRms) : '–'),
        h('td', {}, l ? f(l.stepRms) : '–'),
        h('td', { class: ratio > 1 ? 'over' : '' }, Number.isFinite(ratio) ? ratio.toFixed(3) : '–'),
      );
    });
    this.tableBody.replaceChildren(...rows);
    setText(this.note, 'm̂/(√v̂+ε) is a mean over a root-mean-square, so each parameter moves by about lr or less: the per-layer step / lr stays near or below 1.');
  }
}
