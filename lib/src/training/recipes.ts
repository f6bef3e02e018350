// The lecture's training recipes by notebook name, for `npm run train -- --recipe …` and notebooks 09/10: what
// model, how many, and the schedule. lab-11-1 is one model (train()); the ensembles go through trainEnsemble().
import * as tf from "@tensorflow/tfjs";
import { createBestModel } from "../lecture/best-model";
import { createModel } from "../lecture/model";
import type { EnsembleRecipe } from "./ensemble";

export interface EnsembleRecipeSpec {
  /** What the recipe trains, in a line. */
  description: string;
  models: number;
  build: (seed: number) => tf.LayersModel;
  /** Schedule fields of trainEnsemble's options (epochs and trainImages are the lecture's defaults). */
  schedule: Pick<EnsembleRecipe, "epochs" | "learningRate" | "batchSize"> & Partial<Pick<EnsembleRecipe, "trainImages" | "decay" | "augmentSeed">>;
}

export const ENSEMBLE_RECIPES: Record<"lab-11-4" | "lab-11-5", EnsembleRecipeSpec> = {
  "lab-11-4": {
    description: "ensemble of 3 lecture CNNs (notebook 09), 15 epochs of 60,000 images",
    models: 3, build: createModel,
    schedule: { epochs: 15, learningRate: 0.001, batchSize: 100 },
  },
  "lab-11-5": {
    description: "ensemble of 5 batch-norm CNNs (notebook 10) on the augmented set (each image and 4 rotated/shifted copies: 300,000 per epoch), 15 epochs, learning rate halved every 5 epochs",
    models: 5, build: createBestModel,
    schedule: { epochs: 15, learningRate: 0.001, batchSize: 100, augmentSeed: 777, decay: { everyEpochs: 5, rate: 0.5 } },
  },
};

/** Each member's initialisation seed: 10 apart, since a model takes several consecutive seeds (one per layer). */
export function memberSeeds(seed: number, models: number): number[] {
  return Array.from({ length: models }, (_, m) => seed + 10 * m);
}
