/**
 * A small helper for writing ONNX graphs from JS with `onnx-proto` (protobufjs). It only knows
 * what the tiny-model builder needs: nodes with int/float/ints attributes, float32/int64
 * initializers, and graph inputs/outputs with named (dynamic) or fixed dimensions.
 */
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

export type Dim = string | number;
type AttributeValue = number | number[] | { float: number };

export class OnnxGraph {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private counter = 0;

  /** Adds a node and returns the name(s) of its output(s). */
  op(opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, outputCount = 1): string {
    return this.opMulti(opType, inputs, attributes, outputCount)[0];
  }

  opMulti(opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, outputCount = 1): string[] {
    const id = this.counter++;
    const output = Array.from({ length: outputCount }, (_, i) => `${opType.toLowerCase()}_${id}_${i}`);
    this.nodes.push({
      name: `${opType}_${id}`,
      opType,
      input: inputs,
      output,
      attribute: Object.entries(attributes).map(([name, value]) => toAttribute(name, value)),
    });
    return output;
  }

  /** Renames the output of the node that produced `tensor` (graph outputs need exact names). */
  rename(tensor: string, name: string): string {
    for (const node of this.nodes) {
      const i = node.output!.indexOf(tensor);
      if (i >= 0) node.output![i] = name;
      node.input = node.input!.map((input) => (input === tensor ? name : input));
    }
    return name;
  }

  floatTensor(name: string, data: Float32Array, dims: number[]): string {
    this.initializers.push({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: bytesOf(data) });
    return name;
  }

  int64Tensor(name: string, values: number[], dims: number[] = [values.length]): string {
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    this.initializers.push({ name, dims, dataType: onnx.TensorProto.DataType.INT64, rawData: bytesOf(data) });
    return name;
  }

  /** A float32 scalar constant (an initializer, so runtimes fold it). */
  scalar(value: number): string {
    return this.floatTensor(`const_${this.counter++}`, Float32Array.of(value), []);
  }

  /** An int64 1-D constant. */
  ints(values: number[]): string {
    return this.int64Tensor(`ints_${this.counter++}`, values);
  }

  input(name: string, elemType: "float32" | "int64", dims: Dim[]): string {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  output(name: string, elemType: "float32" | "int64", dims: Dim[]): void {
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  /** The model (IR 8 with opset 17: LayerNormalization exists, ReduceMean still takes attributes). */
  toModel(graphName: string, metadata: Record<string, string>): onnxProto.onnx.IModelProto {
    return onnx.ModelProto.create({
      irVersion: 8,
      producerName: "modelnode",
      opsetImport: [{ domain: "", version: 17 }],
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
      graph: {
        name: graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
  }
}

function toAttribute(name: string, value: AttributeValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  if (typeof value === "object") return { name, type: T.FLOAT, f: value.float };
  return { name, type: T.INT, i: value };
}

function valueInfo(name: string, elemType: "float32" | "int64", dims: Dim[]): onnxProto.onnx.IValueInfoProto {
  const DT = onnx.TensorProto.DataType;
  return {
    name,
    type: {
      tensorType: {
        elemType: elemType === "float32" ? DT.FLOAT : DT.INT64,
        shape: { dim: dims.map((d) => (typeof d === "string" ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

function bytesOf(data: Float32Array | BigInt64Array): Uint8Array {
  // ONNX raw_data is little-endian, as are the hosts Node runs on.
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export function encodeModel(model: onnxProto.onnx.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}
