// cnn-lab: the helpers the lab-11 notebooks import. One module per concern.
import * as tf from "@tensorflow/tfjs";
export { tf };
export * from "./backend";
