// Pictures from the sidecar's numbers, drawn into canvases (putImageData: no URLs, nothing the CSP must allow):
// 32x32 images sent as base64 of C, H, W bytes, conv1's 5x5x3 filters as colour, conv2's maps as grey. CSS scales
// the canvases up with `image-rendering: pixelated`, so a 32x32 image stays crisp at any size.

/** base64 of 3 x size x size bytes (C, H, W) to a canvas of size x size. */
export function drawChw(canvas: HTMLCanvasElement, base64: string, size = 32): void {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const plane = size * size;
  const rgba = new Uint8ClampedArray(plane * 4);
  for (let p = 0; p < plane; p++) {
    rgba[4 * p] = bytes[p];
    rgba[4 * p + 1] = bytes[plane + p];
    rgba[4 * p + 2] = bytes[2 * plane + p];
    rgba[4 * p + 3] = 255;
  }
  put(canvas, rgba, size, size);
}

/**
 * One conv1 filter (3 x 5 x 5 weights, C, H, W) as a colour image: the weights mapped linearly from
 * [-max|w|, +max|w|] of that filter to [0, 255], so grey is zero and each filter uses its whole range.
 */
export function drawFilter(canvas: HTMLCanvasElement, weights: ArrayLike<number>, offset: number, kernel = 5): void {
  const plane = kernel * kernel;
  let max = 1e-12;
  for (let i = 0; i < 3 * plane; i++) max = Math.max(max, Math.abs(weights[offset + i]));
  const rgba = new Uint8ClampedArray(plane * 4);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) rgba[4 * p + c] = Math.round(127.5 + (127.5 * weights[offset + c * plane + p]) / max);
    rgba[4 * p + 3] = 255;
  }
  put(canvas, rgba, kernel, kernel);
}

/** One activation map (size x size, >= 0 after ReLU) in grey, black at 0 and white at `max` (shared by all maps). */
export function drawMap(canvas: HTMLCanvasElement, values: ArrayLike<number>, offset: number, size: number, max: number): void {
  const plane = size * size;
  const rgba = new Uint8ClampedArray(plane * 4);
  for (let p = 0; p < plane; p++) {
    const v = Math.round((255 * Math.max(0, values[offset + p])) / (max || 1));
    rgba[4 * p] = rgba[4 * p + 1] = rgba[4 * p + 2] = v;
    rgba[4 * p + 3] = 255;
  }
  put(canvas, rgba, size, size);
}

function put(canvas: HTMLCanvasElement, rgba: Uint8ClampedArray<ArrayBuffer>, width: number, height: number): void {
  canvas.width = width;
  canvas.height = height;
  canvas.getContext('2d')?.putImageData(new ImageData(rgba, width, height), 0, 0);
}

/** A File's bytes as base64 (for a dropped image), without a data URL's prefix. */
export async function fileBase64(file: Blob): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}
