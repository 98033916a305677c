package recommend

// defaultConfig: see DefaultConfig for what each value means here and how
// it was chosen.
func defaultConfig() Config {
	return Config{
		Factors:        0, // EASE has no latent factors
		Iterations:     0, // nor iterations: it is solved in closed form
		Regularization: 200,
		Alpha:          1,
		Seed:           42,
		Workers:        0,
	}
}
