/**
 * Just enough of the ONNX protobuf format (onnx/onnx.proto3, IR version 8) to write a graph of
 * standard operators with float32/int64 initialisers: the protobuf wire format (varints,
 * length-delimited fields, fixed 32-bit floats) and the messages ModelProto, GraphProto, NodeProto,
 * AttributeProto, TensorProto and ValueInfoProto, each field under its number in onnx.proto3.
 */

/** TensorProto.DataType. */
export const FLOAT = 1;
export const INT64 = 7;
export type ElementType = typeof FLOAT | typeof INT64;

/** A protobuf message under construction; fields are appended in the order written. */
class Message {
  private readonly parts: Uint8Array[] = [];

  private push(bytes: number[] | Uint8Array): void {
    this.parts.push(bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes));
  }

  /** Base-128 varint; negative integers as their 64-bit two's complement (ten bytes), as int64 fields encode them. */
  private static varint(value: number | bigint): number[] {
    let v = BigInt.asUintN(64, BigInt(value));
    const out: number[] = [];
    do {
      const low = Number(v & 0x7fn);
      v >>= 7n;
      out.push(v > 0n ? low | 0x80 : low);
    } while (v > 0n);
    return out;
  }

  private key(field: number, wireType: 0 | 2 | 5): void {
    this.push(Message.varint((field << 3) | wireType));
  }

  int(field: number, value: number | bigint): this {
    this.key(field, 0);
    this.push(Message.varint(value));
    return this;
  }

  float(field: number, value: number): this {
    this.key(field, 5);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    this.push(bytes);
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.key(field, 2);
    this.push(Message.varint(data.length));
    this.push(data);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, message: Message): this {
    return this.bytes(field, message.encode());
  }

  encode(): Uint8Array {
    const out = new Uint8Array(this.parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const part of this.parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }
}

/** A node attribute: a float, an int, or a list of ints (the kinds the encoder's graph uses). */
export type Attribute = { readonly float: number } | { readonly int: number } | { readonly ints: readonly number[] };

export interface Node {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes?: Readonly<Record<string, Attribute>>;
}

export interface Initializer {
  readonly name: string;
  readonly dims: readonly number[];
  readonly type: ElementType;
  readonly values: Float32Array | readonly number[];
}

/** A graph input or output: its element type and its dimensions, a number or a symbolic name. */
export interface ValueInfo {
  readonly name: string;
  readonly type: ElementType;
  readonly dims: readonly (number | string)[];
}

export interface Graph {
  readonly name: string;
  readonly nodes: readonly Node[];
  readonly initializers: readonly Initializer[];
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
}

/** AttributeProto.AttributeType. */
const ATTRIBUTE_FLOAT = 1;
const ATTRIBUTE_INT = 2;
const ATTRIBUTE_INTS = 7;

function attribute(name: string, value: Attribute): Message {
  const m = new Message().string(1, name);
  if ('float' in value) return m.float(2, value.float).int(20, ATTRIBUTE_FLOAT);
  if ('int' in value) return m.int(3, value.int).int(20, ATTRIBUTE_INT);
  for (const v of value.ints) m.int(8, v);
  return m.int(20, ATTRIBUTE_INTS);
}

/** Little-endian raw_data, as TensorProto stores it whatever the platform. */
function rawData(initializer: Initializer): Uint8Array {
  const { values, type } = initializer;
  const width = type === FLOAT ? 4 : 8;
  const bytes = new Uint8Array(values.length * width);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) {
    if (type === FLOAT) view.setFloat32(i * 4, values[i], true);
    else view.setBigInt64(i * 8, BigInt(values[i]), true);
  }
  return bytes;
}

function tensor(initializer: Initializer): Message {
  const expected = initializer.dims.reduce((n, d) => n * d, 1);
  if (initializer.values.length !== expected)
    throw new RangeError(`initializer ${initializer.name}: ${initializer.values.length} values for dims [${initializer.dims.join(', ')}]`);
  const m = new Message();
  for (const d of initializer.dims) m.int(1, d);
  return m.int(2, initializer.type).string(8, initializer.name).bytes(9, rawData(initializer));
}

function valueInfo(info: ValueInfo): Message {
  const shape = new Message();
  for (const d of info.dims) shape.message(1, typeof d === 'number' ? new Message().int(1, d) : new Message().string(2, d));
  const tensorType = new Message().int(1, info.type).message(2, shape);
  return new Message().string(1, info.name).message(2, new Message().message(1, tensorType));
}

/** A serialised ModelProto (IR version 8) of `graph`, importing the default operator set at `opset`. */
export function encodeModel(graph: Graph, opset: number, producer: string): Uint8Array {
  const g = new Message();
  graph.nodes.forEach((node, i) => {
    const n = new Message();
    for (const input of node.inputs) n.string(1, input);
    for (const output of node.outputs) n.string(2, output);
    n.string(3, `${node.op}_${i}`).string(4, node.op);
    for (const [name, value] of Object.entries(node.attributes ?? {})) n.message(5, attribute(name, value));
    g.message(1, n);
  });
  g.string(2, graph.name);
  for (const initializer of graph.initializers) g.message(5, tensor(initializer));
  for (const input of graph.inputs) g.message(11, valueInfo(input));
  for (const output of graph.outputs) g.message(12, valueInfo(output));
  return new Message().int(1, 8).string(2, producer).message(7, g).message(8, new Message().string(1, '').int(2, opset)).encode();
}
