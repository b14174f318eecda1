/**
 * Removes named outputs from an ONNX model's graph, as an ONNX export that stops at
 * last_hidden_state looks (optimum's feature-extraction export of BERT, the Xenova/… conversions on
 * the Hub): the tiny fixtures export pooler_output too, and the pull must work without it.
 *
 * An ONNX file is a protobuf ModelProto; only the wire format is needed: the graph is field 7
 * (GraphProto), whose outputs are field 12 (ValueInfoProto, name in field 1). Every other field is
 * copied byte for byte.
 */

interface Field {
  readonly number: number;
  readonly wireType: number;
  /** The whole field, tag included. */
  readonly bytes: Buffer;
  /** The payload of a length-delimited field. */
  readonly payload?: Buffer;
}

function readVarint(buffer: Buffer, at: number): [number, number] {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = buffer[at++];
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return [value, at];
    shift += 7;
  }
}

function writeVarint(value: number): Buffer {
  const bytes: number[] = [];
  while (value >= 0x80) {
    bytes.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  bytes.push(value);
  return Buffer.from(bytes);
}

function fields(buffer: Buffer): Field[] {
  const out: Field[] = [];
  let at = 0;
  while (at < buffer.length) {
    const start = at;
    const [tag, afterTag] = readVarint(buffer, at);
    at = afterTag;
    const wireType = tag & 7;
    let payload: Buffer | undefined;
    if (wireType === 0) at = readVarint(buffer, at)[1];
    else if (wireType === 1) at += 8;
    else if (wireType === 5) at += 4;
    else if (wireType === 2) {
      const [length, afterLength] = readVarint(buffer, at);
      payload = buffer.subarray(afterLength, afterLength + length);
      at = afterLength + length;
    } else throw new Error(`unsupported wire type ${wireType}`);
    out.push({ number: Math.floor(tag / 8), wireType, bytes: buffer.subarray(start, at), payload });
  }
  return out;
}

function lengthDelimited(number: number, payload: Buffer): Buffer {
  return Buffer.concat([writeVarint(number * 8 + 2), writeVarint(payload.length), payload]);
}

/** The model with the graph outputs named in `drop` removed. */
export function withoutOutputs(model: Buffer, drop: readonly string[]): Buffer {
  return Buffer.concat(
    fields(model).map((field) => {
      if (field.number !== 7 || !field.payload) return field.bytes;
      const graph = fields(field.payload).filter((entry) => {
        if (entry.number !== 12 || !entry.payload) return true;
        const name = fields(entry.payload)
          .find((f) => f.number === 1)
          ?.payload?.toString('utf8');
        return !drop.includes(name ?? '');
      });
      return lengthDelimited(7, Buffer.concat(graph.map((entry) => entry.bytes)));
    }),
  );
}
