"""Analysis of land-cover maps and models: landscape statistics, information content, perplexity,
Gibbs chains with the model as energy, embeddings and probability-of-development maps."""
