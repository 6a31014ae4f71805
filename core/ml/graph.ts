/**
 * A small ONNX graph builder with reverse-mode automatic differentiation.
 *
 * Every differentiable op emits its forward ONNX node(s) and, when one of its
 * inputs requires a gradient, records a tape entry whose `backward` emits the
 * gradient nodes. `backward(loss, wrt)` walks the tape in reverse and returns
 * gradient tensors (all still symbolic graph values; nothing is computed in JS).
 *
 * Shapes are tracked statically; a dimension may be symbolic (a string such as
 * "N" for the batch, or "N*59" after a reshape). Ops only need static sizes on
 * the axes they split, slice or pad.
 *
 * Weight gradients of MatMul/Gemm are accumulated lazily: when one weight is used
 * by many MatMuls (an unrolled RNN), the gradient is emitted as a single Gemm over
 * the concatenated activations and output gradients instead of T small ones.
 */
import { AttrType, DataType, encodeModel, rawBytes, type AttributeMsg, type ModelMsg, type NodeMsg, type TensorMsg, type ValueInfoMsg } from "./onnx";

export type Dim = number | string;
export type DType = "float32" | "float64";

export interface Tensor {
  readonly name: string;
  readonly shape: Dim[];
  /** true when the value depends on a tensor we differentiate with respect to */
  readonly grad: boolean;
  readonly elem: number;
}

export type AttrValue = number | number[] | string | { f: number } | { floats: number[] } | { t: TensorMsg };

type GradTerm = Tensor | { mmA: Tensor; mmDy: Tensor };
interface TapeEntry {
  inputs: Tensor[];
  outputs: Tensor[];
  backward: (dys: (Tensor | undefined)[]) => (Tensor | undefined)[];
  /** MatMul/Gemm: the weight (input 1) gradient is accumulated lazily */
  mm?: boolean;
}

export const OPSET = 17;

function dimEq(a: Dim, b: Dim): boolean {
  return a === b;
}
/** Symbolic dims are always a multiple of the batch: "N" or "N*k". */
function coeff(d: string): number {
  return d === "N" ? 1 : Number(d.slice(2));
}
function sym(k: number): Dim {
  return k === 1 ? "N" : `N*${k}`;
}
export function mulDim(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return a * b;
  if (typeof a === "string" && typeof b === "number") return sym(coeff(a) * b);
  if (typeof a === "number" && typeof b === "string") return sym(coeff(b) * a);
  throw new Error("product of two symbolic dims");
}
/** Evaluate a (possibly symbolic) dimension given the batch size N. */
export function evalDim(d: Dim, n: number): number {
  return typeof d === "number" ? d : coeff(d) * n;
}
function broadcastShape(a: Dim[], b: Dim[]): Dim[] {
  const r = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da === 1) out.push(db);
    else if (db === 1) out.push(da);
    else if (dimEq(da, db)) out.push(da);
    else if (typeof da === "number" && typeof db === "string") out.push(da);
    else if (typeof db === "number" && typeof da === "string") out.push(db);
    else throw new Error(`cannot broadcast [${a}] with [${b}]`);
  }
  return out;
}

export class Graph {
  readonly elem: number;
  readonly nodes: NodeMsg[] = [];
  readonly initializers: TensorMsg[] = [];
  readonly inputs: ValueInfoMsg[] = [];
  readonly outputs: ValueInfoMsg[] = [];
  /** MatMul/Gemm sizes emitted (forward and backward), for FLOP accounting. */
  readonly matmuls: { m: Dim; k: Dim; n: Dim }[] = [];
  /**
   * Useful-FLOP entries a layer declares for its backward pass (appended to `matmuls` when
   * `backward` runs), for layers whose Gemms carry padding (zero state, bias column) that is
   * not counted as useful work; their actual Gemms are built with countFlops = false.
   */
  readonly backwardMatmuls: { m: Dim; k: Dim; n: Dim }[] = [];
  /** weights whose (lazy) gradient Gemm is not counted (see backwardMatmuls) */
  private readonly uncountedWeights = new Set<string>();
  private readonly tape: TapeEntry[] = [];
  private recording = true;
  private counter = 0;
  private readonly consts = new Map<string, Tensor>();

  constructor(readonly dtype: DType = "float32") {
    this.elem = dtype === "float64" ? DataType.DOUBLE : DataType.FLOAT;
  }

  private fresh(prefix = "t"): string {
    return `${prefix}${this.counter++}`;
  }

  // ---------------------------------------------------------------- leaves

  input(name: string, shape: Dim[], opts: { grad?: boolean; elem?: number } = {}): Tensor {
    const elem = opts.elem ?? this.elem;
    this.inputs.push(valueInfo(name, elem, shape));
    return { name, shape, grad: opts.grad ?? false, elem };
  }

  /** A float initializer in the graph dtype (data converted if needed). */
  initializer(name: string, dims: number[], data: Float32Array | Float64Array): Tensor {
    const typed = this.dtype === "float64" ? Float64Array.from(data) : data instanceof Float32Array ? data : Float32Array.from(data);
    this.initializers.push({ name, dims, dataType: this.elem, rawData: rawBytes(typed) });
    return { name, shape: dims, grad: false, elem: this.elem };
  }

  rawInitializer(name: string, dims: number[], dataType: number, data: Float32Array | Int8Array | BigInt64Array | Uint8Array): Tensor {
    this.initializers.push({ name, dims, dataType, rawData: rawBytes(data) });
    return { name, shape: dims, grad: false, elem: dataType };
  }

  scalar(v: number): Tensor {
    const key = `f${v}`;
    let t = this.consts.get(key);
    if (!t) {
      const name = this.fresh("const_");
      t = this.initializer(name, [], this.dtype === "float64" ? Float64Array.of(v) : Float32Array.of(v));
      this.consts.set(key, t);
    }
    return t;
  }

  ints(values: number[]): Tensor {
    const key = `i${values.join(",")}`;
    let t = this.consts.get(key);
    if (!t) {
      const name = this.fresh("const_");
      t = this.rawInitializer(name, [values.length], DataType.INT64, BigInt64Array.from(values.map((v) => BigInt(v))));
      this.consts.set(key, t);
    }
    return t;
  }

  /** Emit a raw ONNX node (not recorded on the tape). */
  node(opType: string, inputs: (Tensor | string)[], outShapes: Dim[][], attrs: Record<string, AttrValue> = {}, elem?: number): Tensor[] {
    const outs = outShapes.map((shape) => ({ name: this.fresh(), shape, grad: false, elem: elem ?? this.elem }));
    this.nodes.push({
      input: inputs.map((i) => (typeof i === "string" ? i : i.name)),
      output: outs.map((o) => o.name),
      name: `n${this.nodes.length}`,
      opType,
      attribute: Object.entries(attrs).map(([name, v]) => attr(name, v)),
    });
    return outs;
  }
  private node1(opType: string, inputs: (Tensor | string)[], shape: Dim[], attrs: Record<string, AttrValue> = {}, elem?: number): Tensor {
    return this.node(opType, inputs, [shape], attrs, elem)[0]!;
  }

  private record(inputs: Tensor[], outputs: Tensor[], backward: TapeEntry["backward"], mm = false): Tensor[] {
    const needs = this.recording && inputs.some((i) => i.grad);
    if (!needs) return outputs;
    const marked = outputs.map((o) => ({ ...o, grad: true }));
    this.tape.push({ inputs, outputs: marked, backward, mm });
    return marked;
  }

  /** Name a value as a graph output. */
  output(t: Tensor, name: string): Tensor {
    this.nodes.push({ input: [t.name], output: [name], name: "", opType: "Identity", attribute: [] });
    this.outputs.push(valueInfo(name, t.elem, t.shape));
    return { ...t, name };
  }

  // ------------------------------------------------------------ elementwise

  private reduceTo(dy: Tensor, shape: Dim[]): Tensor {
    let t = dy;
    const extra = t.shape.length - shape.length;
    if (extra > 0) {
      const axes = Array.from({ length: extra }, (_, i) => i);
      t = this.node1("ReduceSum", [t, this.ints(axes)], t.shape.slice(extra), { keepdims: 0 });
    }
    const axes: number[] = [];
    shape.forEach((d, i) => {
      if (d === 1 && t.shape[i] !== 1) axes.push(i);
    });
    if (axes.length) t = this.node1("ReduceSum", [t, this.ints(axes)], shape, { keepdims: 1 });
    return t;
  }

  add(a: Tensor, b: Tensor): Tensor {
    const y = this.node1("Add", [a, b], broadcastShape(a.shape, b.shape));
    return this.record([a, b], [y], ([dy]) => [a.grad ? this.reduceTo(dy!, a.shape) : undefined, b.grad ? this.reduceTo(dy!, b.shape) : undefined])[0]!;
  }
  sub(a: Tensor, b: Tensor): Tensor {
    const y = this.node1("Sub", [a, b], broadcastShape(a.shape, b.shape));
    return this.record([a, b], [y], ([dy]) => [
      a.grad ? this.reduceTo(dy!, a.shape) : undefined,
      b.grad ? this.reduceTo(this.node1("Neg", [dy!], dy!.shape), b.shape) : undefined,
    ])[0]!;
  }
  mul(a: Tensor, b: Tensor): Tensor {
    const y = this.node1("Mul", [a, b], broadcastShape(a.shape, b.shape));
    return this.record([a, b], [y], ([dy]) => [
      a.grad ? this.reduceTo(this.node1("Mul", [dy!, b], dy!.shape), a.shape) : undefined,
      b.grad ? this.reduceTo(this.node1("Mul", [dy!, a], dy!.shape), b.shape) : undefined,
    ])[0]!;
  }
  div(a: Tensor, b: Tensor): Tensor {
    const y0 = this.node1("Div", [a, b], broadcastShape(a.shape, b.shape));
    const [y] = this.record([a, b], [y0], ([dy]) => [
      a.grad ? this.reduceTo(this.node1("Div", [dy!, b], dy!.shape), a.shape) : undefined,
      b.grad ? this.reduceTo(this.node1("Neg", [this.node1("Div", [this.node1("Mul", [dy!, y!], dy!.shape), b], dy!.shape)], dy!.shape), b.shape) : undefined,
    ]);
    return y!;
  }
  private unary(op: string, x: Tensor, grad: (dy: Tensor, y: Tensor) => Tensor, attrs: Record<string, AttrValue> = {}): Tensor {
    const y0 = this.node1(op, [x], x.shape, attrs);
    const [y] = this.record([x], [y0], ([dy]) => [grad(dy!, y!)]);
    return y!;
  }
  sigmoid(x: Tensor): Tensor {
    return this.unary("Sigmoid", x, (dy, y) => {
      const s = this.node1("Sub", [this.scalar(1), y], y.shape);
      return this.node1("Mul", [dy, this.node1("Mul", [y, s], y.shape)], y.shape);
    });
  }
  tanh(x: Tensor): Tensor {
    const y0 = this.node1("Tanh", [x], x.shape);
    if (!this.recording || !x.grad) return y0;
    // tanh' = 1 − y² is formed in the forward pass, while y is still in cache
    const s = this.node1("Sub", [this.scalar(1), this.node1("Mul", [y0, y0], y0.shape)], y0.shape);
    return this.record([x], [y0], ([dy]) => [this.node1("Mul", [dy!, s], x.shape)])[0]!;
  }
  relu(x: Tensor): Tensor {
    return this.unary("Relu", x, (dy, y) => {
      const pos = this.node1("Greater", [y, this.scalar(0)], y.shape, {}, DataType.BOOL);
      return this.node1("Where", [pos, dy, this.scalar(0)], y.shape);
    });
  }
  exp(x: Tensor): Tensor {
    return this.unary("Exp", x, (dy, y) => this.node1("Mul", [dy, y], y.shape));
  }
  log(x: Tensor): Tensor {
    return this.unary("Log", x, (dy) => this.node1("Div", [dy, x], x.shape));
  }
  neg(x: Tensor): Tensor {
    return this.unary("Neg", x, (dy) => this.node1("Neg", [dy], x.shape));
  }
  abs(x: Tensor): Tensor {
    return this.unary("Abs", x, (dy) => this.node1("Mul", [dy, this.node1("Sign", [x], x.shape)], x.shape));
  }
  sqrt(x: Tensor): Tensor {
    return this.unary("Sqrt", x, (dy, y) => this.node1("Div", [this.node1("Mul", [dy, this.scalar(0.5)], x.shape), y], x.shape));
  }
  /** x ** p for a constant exponent p. */
  pow(x: Tensor, p: number): Tensor {
    const y0 = this.node1("Pow", [x, this.scalar(p)], x.shape);
    return this.record([x], [y0], ([dy]) => {
      const d = p === 2 ? this.node1("Mul", [x, this.scalar(2)], x.shape) : this.node1("Mul", [this.node1("Pow", [x, this.scalar(p - 1)], x.shape), this.scalar(p)], x.shape);
      return [this.node1("Mul", [dy!, d], x.shape)];
    })[0]!;
  }
  /** Per-column gate scale for `lstmGates`: 1 on the i, f, o blocks, 2 on the g block ([4H]). */
  gateScale(H: number): Tensor {
    const key = `gatescale${H}`;
    let t = this.consts.get(key);
    if (!t) {
      t = this.initializer(this.fresh("const_"), [4 * H], Float64Array.from({ length: 4 * H }, (_, j) => (j >= 2 * H && j < 3 * H ? 2 : 1)));
      this.consts.set(key, t);
    }
    return t;
  }

  /**
   * Fused LSTM gate activations. Input: pre-activations [N, 4H] (gate order i,f,g,o) whose
   * g block is already multiplied by 2 (fold `gateScale(H)` into the weights once per layer).
   * One Sigmoid over all gates, then g = 2σ(2x) − 1 = tanh(x). Returns [i, f, g, o].
   * Backward: dx = concat(di, df, 2·dg, do) ⊙ y(1 − y).
   */
  lstmGates(x: Tensor, H: number): Tensor[] {
    const y = this.node1("Sigmoid", [x], x.shape);
    const shape = [x.shape[0]!, H];
    const [i, f, gs, o] = this.node("Split", [y, this.ints([H, H, H, H])], [shape, shape, shape, shape], { axis: 1 }) as [Tensor, Tensor, Tensor, Tensor];
    const gt = this.node1("Sub", [this.node1("Mul", [gs, this.scalar(2)], shape), this.scalar(1)], shape);
    const outs = [i, f, gt, o];
    if (!this.recording || !x.grad) return outs;
    // σ' = y(1 − y) is formed here, while y is still in cache, rather than in the backward pass
    const d = this.node1("Mul", [y, this.node1("Sub", [this.scalar(1), y], x.shape)], x.shape);
    return this.record([x], outs, (dys) => {
      const parts = dys.map((dy, k) => dy ?? this.node1("Mul", [outs[k]!, this.scalar(0)], shape));
      parts[2] = this.node1("Mul", [parts[2]!, this.scalar(2)], shape);
      const dcat = this.node1("Concat", parts, x.shape, { axis: 1 });
      return [this.node1("Mul", [dcat, d], x.shape)];
    });
  }

  /** Huber loss of a residual (elementwise): 0.5 d² for |d| ≤ δ, else δ(|d| − δ/2). */
  huber(d: Tensor, delta: number): Tensor {
    const a = this.node1("Abs", [d], d.shape);
    const m = this.node1("Min", [a, this.scalar(delta)], d.shape);
    const half = this.node1("Mul", [m, this.scalar(0.5)], d.shape);
    const y0 = this.node1("Mul", [m, this.node1("Sub", [a, half], d.shape)], d.shape);
    return this.record([d], [y0], ([dy]) => [this.node1("Mul", [dy!, this.node1("Clip", [d, this.scalar(-delta), this.scalar(delta)], d.shape)], d.shape)])[0]!;
  }
  /** log(1 + exp(x)) computed stably as relu(x) + log(1 + exp(−|x|)), built from primitives. */
  softplus(x: Tensor): Tensor {
    return this.add(this.relu(x), this.log(this.add(this.scalar(1), this.exp(this.neg(this.abs(x))))));
  }
  /** Elementwise binary cross-entropy from logits z and 0/1 targets y: softplus(z) − y·z. */
  bceWithLogits(z: Tensor, y: Tensor): Tensor {
    return this.sub(this.softplus(z), this.mul(y, z));
  }

  // ------------------------------------------------------------ linear algebra

  /** 2-D MatMul a[M,K] · b[K,N]. */
  matmul(a: Tensor, b: Tensor): Tensor {
    const y = this.node1("MatMul", [a, b], [a.shape[0]!, b.shape[1]!]);
    this.matmuls.push({ m: a.shape[0]!, k: a.shape[1]!, n: b.shape[1]! });
    return this.record([a, b], [y], ([dy]) => [a.grad ? this.gemmRaw(dy!, b, undefined, false, true) : undefined, undefined], true)[0]!;
  }
  /** Gemm a[M,K] · b[K,N] + c (c broadcastable to [M,N]). */
  gemm(a: Tensor, b: Tensor, c?: Tensor, countFlops = true): Tensor {
    const shape = [a.shape[0]!, b.shape[1]!];
    const y = this.node1("Gemm", c ? [a, b, c] : [a, b], shape);
    if (countFlops) this.matmuls.push({ m: a.shape[0]!, k: a.shape[1]!, n: b.shape[1]! });
    const ins = c ? [a, b, c] : [a, b];
    return this.record(ins, [y], ([dy]) => [
      a.grad ? this.gemmRaw(dy!, b, undefined, false, true, countFlops) : undefined,
      undefined,
      c?.grad ? this.reduceTo(dy!, c.shape) : undefined,
    ], true)[0]!;
  }
  /** Do not count the weight-gradient Gemm of `w` (its useful FLOPs are declared via backwardMatmuls). */
  uncountedWeight(w: Tensor): void {
    this.uncountedWeights.add(w.name);
  }
  /** Unrecorded Gemm with optional transposes (used by gradient rules and the optimizer). */
  gemmRaw(a: Tensor, b: Tensor, c: Tensor | undefined, transA: boolean, transB: boolean, countFlops = true): Tensor {
    const m = transA ? a.shape[1]! : a.shape[0]!;
    const k = transA ? a.shape[0]! : a.shape[1]!;
    const n = transB ? b.shape[0]! : b.shape[1]!;
    if (countFlops) this.matmuls.push({ m, k, n });
    return this.node1("Gemm", c ? [a, b, c] : [a, b], [m, n], { transA: transA ? 1 : 0, transB: transB ? 1 : 0 });
  }

  // ------------------------------------------------------------ shape ops

  reshape(x: Tensor, shape: Dim[]): Tensor {
    const y = this.node1("Reshape", [x, this.ints(toShapeSpec(shape))], shape);
    return this.record([x], [y], ([dy]) => [this.node1("Reshape", [dy!, this.ints(toShapeSpec(x.shape))], x.shape)])[0]!;
  }
  transpose(x: Tensor, perm: number[]): Tensor {
    const y = this.node1("Transpose", [x], perm.map((p) => x.shape[p]!), { perm });
    const inv = perm.map((_, i) => perm.indexOf(i));
    return this.record([x], [y], ([dy]) => [this.node1("Transpose", [dy!], x.shape, { perm: inv })])[0]!;
  }
  concat(xs: Tensor[], axis: number): Tensor {
    const shape = [...xs[0]!.shape];
    shape[axis] = xs.map((x) => x.shape[axis]!).reduce((p, d) => addDim(p, d));
    const y = this.node1("Concat", xs, shape, { axis });
    return this.record(xs, [y], ([dy]) => this.splitRaw(dy!, axis, xs.map((x) => x.shape[axis]!)))[0]!;
  }
  private readonly concats = new Map<string, Tensor>();
  /** Unrecorded Concat, shared when the same list of tensors is concatenated again. */
  concatCached(parts: Tensor[], axis: number): Tensor {
    const key = `${axis}|${parts.map((p) => p.name).join(",")}`;
    let t = this.concats.get(key);
    if (!t) {
      const shape = [...parts[0]!.shape];
      shape[axis] = parts.map((p) => p.shape[axis]!).reduce(addDim);
      t = this.node1("Concat", parts, shape, { axis });
      this.concats.set(key, t);
    }
    return t;
  }
  private splitRaw(x: Tensor, axis: number, sizes: Dim[]): Tensor[] {
    const shapes = sizes.map((s) => x.shape.map((d, i) => (i === axis ? s : d)));
    if (sizes.every((s) => typeof s === "number")) return this.node("Split", [x, this.ints(sizes as number[])], shapes, { axis });
    if (sizes.every((s) => s === sizes[0])) return this.node("Split", [x], shapes, { axis });
    throw new Error("split with mixed symbolic sizes");
  }
  /** Split along an axis into the given static sizes, or into `count` equal parts. */
  split(x: Tensor, axis: number, sizes: number[] | { count: number; size: Dim }): Tensor[] {
    const list: Dim[] = Array.isArray(sizes) ? sizes : Array.from({ length: sizes.count }, () => sizes.size);
    const outs = this.splitRaw(x, axis, list);
    return this.record([x], outs, (dys) => {
      const parts = dys.map((d, i) => d ?? this.node1("Mul", [outs[i]!, this.scalar(0)], outs[i]!.shape));
      return [this.concatCached(parts, axis)];
    });
  }
  /** x[..., start:end, ...] on one axis (static bounds; the axis size must be static). */
  slice(x: Tensor, axis: number, start: number, end: number): Tensor {
    const shape = x.shape.map((d, i) => (i === axis ? end - start : d));
    const y = this.node1("Slice", [x, this.ints([start]), this.ints([end]), this.ints([axis])], shape);
    return this.record([x], [y], ([dy]) => {
      const size = x.shape[axis];
      if (typeof size !== "number") throw new Error("slice gradient needs a static axis");
      const r = x.shape.length;
      const pads = new Array<number>(2 * r).fill(0);
      pads[axis] = start;
      pads[r + axis] = size - end;
      return [this.node1("Pad", [dy!, this.ints(pads)], x.shape)];
    })[0]!;
  }
  /**
   * Gather with constant indices along one axis (repeats allowed). Backward scatters the
   * output gradient back with ScatterND(reduction = "add") into zeros of x's shape.
   */
  gather(x: Tensor, axis: number, indices: number[]): Tensor {
    const shape = x.shape.map((d, i) => (i === axis ? indices.length : d));
    const y = this.node1("Gather", [x, this.ints(indices)], shape, { axis });
    return this.record([x], [y], ([dy]) => {
      const r = x.shape.length;
      const perm = [axis, ...Array.from({ length: r }, (_, i) => i).filter((i) => i !== axis)];
      const inv = perm.map((_, i) => perm.indexOf(i));
      const front = axis === 0;
      const xT = front ? x : this.node1("Transpose", [x], perm.map((p) => x.shape[p]!), { perm });
      const dyT = front ? dy! : this.node1("Transpose", [dy!], perm.map((p) => dy!.shape[p]!), { perm });
      const zeros = this.node1("Expand", [this.scalar(0), this.node1("Shape", [xT], [r], {}, DataType.INT64)], xT.shape);
      const idx = this.rawInitializer(this.fresh("const_"), [indices.length, 1], DataType.INT64, BigInt64Array.from(indices.map((v) => BigInt(v))));
      const scattered = this.node1("ScatterND", [zeros, idx, dyT], xT.shape, { reduction: "add" });
      return [front ? scattered : this.node1("Transpose", [scattered], x.shape, { perm: inv })];
    })[0]!;
  }
  reduceMean(x: Tensor, axes: number[], keepdims = true): Tensor {
    const shape = reducedShape(x.shape, axes, keepdims);
    const y = this.node1("ReduceMean", [x], shape, { axes, keepdims: keepdims ? 1 : 0 });
    return this.record([x], [y], ([dy]) => {
      const g = this.expandBack(dy!, x, axes, keepdims);
      const sizes = axes.map((a) => x.shape[a]!);
      if (sizes.every((s) => typeof s === "number")) {
        const count = (sizes as number[]).reduce((p, s) => p * s, 1);
        return [this.node1("Mul", [g, this.scalar(1 / count)], x.shape)];
      }
      const sx = this.node1("Cast", [this.node1("Size", [x], [], {}, DataType.INT64)], [], { to: this.elem });
      const sy = this.node1("Cast", [this.node1("Size", [y!], [], {}, DataType.INT64)], [], { to: this.elem });
      return [this.node1("Div", [g, this.node1("Div", [sx, sy], [])], x.shape)];
    })[0]!;
    // (y captured by closure above through the recorded output name; Size(y) only needs its shape)
  }
  reduceSum(x: Tensor, axes: number[], keepdims = true): Tensor {
    const shape = reducedShape(x.shape, axes, keepdims);
    const y = this.node1("ReduceSum", [x, this.ints(axes)], shape, { keepdims: keepdims ? 1 : 0 });
    return this.record([x], [y], ([dy]) => [this.expandBack(dy!, x, axes, keepdims)])[0]!;
  }
  private expandBack(dy: Tensor, x: Tensor, axes: number[], keepdims: boolean): Tensor {
    let g = dy;
    if (!keepdims) g = this.node1("Unsqueeze", [g, this.ints(axes)], reducedShape(x.shape, axes, true));
    const shp = this.node1("Shape", [x], [x.shape.length], {}, DataType.INT64);
    return this.node1("Expand", [g, shp], x.shape);
  }

  /** Raw (unrecorded) helpers for optimizer / metric code. */
  raw(opType: string, inputs: Tensor[], shape: Dim[], attrs: Record<string, AttrValue> = {}, elem?: number): Tensor {
    return this.node1(opType, inputs, shape, attrs, elem);
  }

  // ------------------------------------------------------------ autodiff

  /**
   * Gradients of a scalar `loss` with respect to `wrt`. Emits gradient nodes
   * into this graph. Returns one tensor per `wrt` entry (zeros if unused).
   */
  backward(loss: Tensor, wrt: Tensor[]): Tensor[] {
    const grads = new Map<string, GradTerm[]>();
    grads.set(loss.name, [this.node1("Expand", [this.scalar(1), this.node1("Shape", [loss], [loss.shape.length], {}, DataType.INT64)], loss.shape)]);
    const materialise = (t: Tensor): Tensor | undefined => {
      const terms = grads.get(t.name);
      if (!terms || terms.length === 0) return undefined;
      let sum: Tensor | undefined;
      const As: Tensor[] = [];
      const Ds: Tensor[] = [];
      const plain: Tensor[] = [];
      for (const term of terms) {
        if ("mmA" in term) {
          As.push(term.mmA);
          Ds.push(term.mmDy);
        } else plain.push(term);
      }
      // terms were collected in reverse time order; restore forward order so the
      // concatenations below are shared (CSE) with the Split backward of the same tensors
      plain.reverse();
      As.reverse();
      Ds.reverse();
      const sameShape = plain.length >= 3 && plain[0]!.shape.length === 2 && plain.every((p) => p.shape.length === 2 && p.shape[0] === plain[0]!.shape[0] && p.shape[1] === plain[0]!.shape[1]);
      if (sameShape && typeof plain[0]!.shape[1] === "number") {
        // many equal-shape contributions (a tensor reused at every time step): one Concat + ReduceSum
        const cat = this.concatCached(plain, 0);
        const d = plain[0]!.shape[1] as number;
        const r3 = this.node1("Reshape", [cat, this.ints([plain.length, -1, d])], [plain.length, plain[0]!.shape[0]!, d]);
        sum = this.node1("ReduceSum", [r3, this.ints([0])], plain[0]!.shape, { keepdims: 0 });
        if (sum.shape.length !== t.shape.length) sum = this.reduceTo(sum, t.shape);
      } else {
        for (const term of plain) sum = sum ? this.node1("Add", [sum, term], t.shape) : term;
      }
      if (As.length) {
        const A = As.length === 1 ? As[0]! : this.concatCached(As, 0);
        const D = Ds.length === 1 ? Ds[0]! : this.concatCached(Ds, 0);
        sum = this.gemmRaw(A, D, sum, true, false, !this.uncountedWeights.has(t.name));
      }
      grads.set(t.name, [sum!]);
      return sum;
    };
    const prev = this.recording;
    this.recording = false;
    this.matmuls.push(...this.backwardMatmuls.splice(0));
    try {
      for (let i = this.tape.length - 1; i >= 0; i--) {
        const entry = this.tape[i]!;
        const dys = entry.outputs.map((o) => materialise(o));
        if (dys.every((d) => d === undefined)) continue;
        const dxs = entry.backward(dys);
        entry.inputs.forEach((inp, j) => {
          if (!inp.grad) return;
          const dx = dxs[j];
          const list = grads.get(inp.name) ?? [];
          // lazy MatMul/Gemm weight gradient: b = inputs[1]
          if (j === 1 && entry.mm) {
            const dy = dys[0]!;
            list.push({ mmA: entry.inputs[0]!, mmDy: dy });
            grads.set(inp.name, list);
            return;
          }
          if (!dx) return;
          list.push(dx);
          grads.set(inp.name, list);
        });
      }
      return wrt.map((w) => materialise(w) ?? this.node1("Mul", [w, this.scalar(0)], w.shape));
    } finally {
      this.recording = prev;
    }
  }
  // ------------------------------------------------------------ serialise

  toModel(opts: { name?: string; metadata?: Record<string, string>; doc?: string } = {}): ModelMsg {
    return {
      irVersion: 8,
      producerName: "flint",
      producerVersion: "1",
      opsetImport: [{ domain: "", version: OPSET }],
      docString: opts.doc ?? "",
      graph: {
        name: opts.name ?? "flint",
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
      metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
    };
  }
  toBytes(opts: { name?: string; metadata?: Record<string, string>; doc?: string } = {}): Uint8Array {
    return encodeModel(this.toModel(opts));
  }

  /** Useful FLOPs of all MatMul/Gemm nodes for batch size n (2·m·k·n each). */
  matmulFlops(n: number): number {
    return this.matmuls.reduce((s, mm) => s + 2 * evalDim(mm.m, n) * evalDim(mm.k, n) * evalDim(mm.n, n), 0);
  }
}

function addDim(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return a + b;
  if (typeof a === "string" && typeof b === "string") return sym(coeff(a) + coeff(b));
  throw new Error("concat of static and symbolic sizes");
}
function reducedShape(shape: Dim[], axes: number[], keepdims: boolean): Dim[] {
  const out: Dim[] = [];
  shape.forEach((d, i) => {
    if (axes.includes(i)) {
      if (keepdims) out.push(1);
    } else out.push(d);
  });
  return out;
}
function toShapeSpec(shape: Dim[]): number[] {
  const sym = shape.filter((d) => typeof d !== "number").length;
  if (sym > 1) throw new Error(`reshape with more than one symbolic dim: [${shape}]`);
  return shape.map((d) => (typeof d === "number" ? d : -1));
}
function valueInfo(name: string, elem: number, shape: Dim[]): ValueInfoMsg {
  return {
    name,
    type: { tensorType: { elemType: elem, shape: { dim: shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d.replace("N", "batch") })) } } },
  };
}
function attr(name: string, v: AttrValue): AttributeMsg {
  if (typeof v === "number") return { name, type: AttrType.INT, i: v };
  if (typeof v === "string") return { name, type: AttrType.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: AttrType.INTS, ints: v };
  if ("f" in v) return { name, type: AttrType.FLOAT, f: v.f };
  if ("floats" in v) return { name, type: AttrType.FLOATS, floats: v.floats };
  return { name, type: AttrType.TENSOR, t: v.t };
}
