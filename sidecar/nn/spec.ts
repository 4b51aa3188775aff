// The seed's network (the PyTorch CIFAR-10 tutorial CNN) described once: parameter names, shapes and
// their offsets in the one flat parameter buffer, in PyTorch's state_dict order. Every other part
// (reference layers, WebAssembly kernels, optimizers, checkpoints, safetensors export, parametersSha256)
// addresses parameters through this table.

export const IMAGE_CHANNELS = 3;
export const IMAGE_SIZE = 32;
export const IMAGE_BYTES = IMAGE_CHANNELS * IMAGE_SIZE * IMAGE_SIZE; // 3,072
export const NUM_CLASSES = 10;
export const CLASS_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'] as const;

export interface ParameterSpec {
  name: string;
  shape: number[];
  offset: number; // in floats, into the flat parameter buffer
  size: number;
  fanIn: number; // PyTorch's fan_in for its default initialisation
  layer: string; // conv1, conv2, fc1, fc2, fc3
}

const layout: Array<[string, number[], number]> = [
  ['conv1.weight', [6, 3, 5, 5], 75],
  ['conv1.bias', [6], 75],
  ['conv2.weight', [16, 6, 5, 5], 150],
  ['conv2.bias', [16], 150],
  ['fc1.weight', [120, 400], 400],
  ['fc1.bias', [120], 400],
  ['fc2.weight', [84, 120], 120],
  ['fc2.bias', [84], 120],
  ['fc3.weight', [10, 84], 84],
  ['fc3.bias', [10], 84],
];

export const PARAMETERS: readonly ParameterSpec[] = (() => {
  let offset = 0;
  return layout.map(([name, shape, fanIn]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const spec = { name, shape, offset, size, fanIn, layer: name.split('.')[0] };
    offset += size;
    return spec;
  });
})();

export const PARAMETER_COUNT = PARAMETERS.reduce((n, p) => n + p.size, 0); // 62,006
export const LAYER_NAMES = ['conv1', 'conv2', 'fc1', 'fc2', 'fc3'] as const;

export function parameter(name: string): ParameterSpec {
  const p = PARAMETERS.find((q) => q.name === name);
  if (!p) throw new Error(`unknown parameter ${name}`);
  return p;
}
