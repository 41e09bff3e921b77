"""Training the learned generators: packed shards (`data`), the pair sampler with co-visibility retrieval
(`pairs`), the progressive-context / self-conditioning trainer (`trainer`); held-out scoring lives in `evaluation`."""
