// The arrays the reference layers (nn/) and the optimizers (optim/) compute on: float32 for training, as PyTorch
// trains, and float64 for the reference's float64 optimizer check; the same code serves both.
export type FloatArray = Float32Array | Float64Array;
