// cnn-lab: the helpers the lab-11 notebooks import. One module per concern.
import * as tf from "@tensorflow/tfjs";
export { tf };
export * from "./backend";
export * from "./tensor";
export * from "./padding";
export * from "./plot";
export * from "./colormap";
export * from "./font";
export * from "./idx";
export * from "./mnist";
export * from "./wasm-training";
export * from "./model";
export * from "./checkpoint";
export * from "./evaluate";
export * from "./train";
export * from "./charts";
export * from "./digit-image";
export * from "./runs";
