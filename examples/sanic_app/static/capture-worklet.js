// AudioWorklet: microphone samples -> 16 kHz mono int16 chunks, posted to the page.
//
// It runs on the audio thread, so the page's own work never makes it drop samples.
// When the AudioContext already runs at 16 kHz the samples are only converted. When
// the browser refused a 16 kHz context (Firefox will not connect a 48 kHz microphone to
// one), the context runs at the device rate and this worklet brings it down to 16 kHz:
// a windowed-sinc low-pass below the new Nyquist frequency (so nothing above 8 kHz
// folds back into speech as noise), then linear interpolation at the output instants,
// which also covers rates that are not a multiple of 16 kHz (44.1 kHz).

const TARGET_RATE = 16000;
const CHUNK_SAMPLES = 1600; // 100 ms per message: small enough for a live feel
const FILTER_TAPS = 63; // odd: a symmetric filter with a centre tap
const CUTOFF_HZ = 7200; // below 8 kHz, leaving room for the filter's roll-off

function lowPassTaps(inputRate) {
  const fc = CUTOFF_HZ / inputRate; // cycles per input sample
  const middle = (FILTER_TAPS - 1) / 2;
  const taps = new Float32Array(FILTER_TAPS);
  let sum = 0;
  for (let n = 0; n < FILTER_TAPS; n++) {
    const x = n - middle;
    const sinc = x === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * x) / (Math.PI * x);
    const hamming = 0.54 - 0.46 * Math.cos((2 * Math.PI * n) / (FILTER_TAPS - 1));
    taps[n] = sinc * hamming;
    sum += taps[n];
  }
  for (let n = 0; n < FILTER_TAPS; n++) taps[n] /= sum; // unity gain at 0 Hz
  return taps;
}

class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    // `sampleRate` is the context's rate, a global of the worklet scope.
    this.step = sampleRate / TARGET_RATE; // input samples per output sample
    this.resampling = Math.abs(this.step - 1) > 1e-9;
    if (this.resampling) {
      this.taps = lowPassTaps(sampleRate);
      this.history = new Float32Array(FILTER_TAPS); // ring of the last inputs
      this.head = 0;
      this.previous = 0; // last filtered sample
      this.phase = 1; // next output instant, in input samples after `previous`
    }
    this.chunk = new Int16Array(CHUNK_SAMPLES);
    this.filled = 0;
    // "flush": post the partial chunk, then a marker, so the page knows all audio is out.
    this.port.onmessage = (event) => {
      if (event.data !== "flush") return;
      this.postChunk();
      this.port.postMessage({ flushed: true });
    };
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true;
    const frames = channels[0].length;
    for (let i = 0; i < frames; i++) {
      let x = 0; // mono: the mean of the channels
      for (let c = 0; c < channels.length; c++) x += channels[c][i];
      x /= channels.length;
      if (this.resampling) this.resample(x);
      else this.push(x);
    }
    return true; // keep running while the microphone is connected
  }

  resample(x) {
    this.history[this.head] = x;
    this.head = (this.head + 1) % FILTER_TAPS;
    let y = 0;
    for (let n = 0, k = this.head; n < FILTER_TAPS; n++, k = (k + 1) % FILTER_TAPS) {
      y += this.taps[n] * this.history[k];
    }
    // Output instants between the previous filtered sample and this one.
    while (this.phase <= 1) {
      this.push(this.previous + (y - this.previous) * this.phase);
      this.phase += this.step;
    }
    this.phase -= 1;
    this.previous = y;
  }

  push(x) {
    const clamped = Math.max(-1, Math.min(1, x));
    this.chunk[this.filled++] = clamped < 0 ? clamped * 0x8000 : clamped * 0x7fff;
    if (this.filled === CHUNK_SAMPLES) this.postChunk();
  }

  postChunk() {
    if (this.filled === 0) return;
    const samples = this.chunk.slice(0, this.filled);
    this.port.postMessage(samples.buffer, [samples.buffer]); // transferred, not copied
    this.filled = 0;
  }
}

registerProcessor("capture-16k", CaptureProcessor);
