import { train } from "../../core/ml";
import { generate } from "./generator";
const arch = (process.argv[2] ?? "lstm_autoencoder") as any;
const d = generate({ rows: 3000, sensors: 4, period: 120, seed: 3 });
const t0 = Date.now();
const r = await train({ architecture: arch, data: d, hyperparameters: { sequence_length: 20, hidden_dim: 16, bottleneck_dim: 8, num_layers: 1, epochs: Number(process.argv[3] ?? 8), batch_size: 32, learning_rate: 0.005 , stride: 2},
  onEpoch: (e) => console.log(JSON.stringify(e)) });
console.log("time", (Date.now() - t0) / 1000);
console.log(JSON.stringify({ ...r, model: r.model.length, quantizedModel: r.quantizedModel.length, checkpoint: r.checkpoint.length, metadata: undefined, history: undefined }, null, 1));
