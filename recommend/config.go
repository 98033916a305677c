package recommend

import "time"

// defaultConfig: see DefaultConfig for what each value means here and how
// it was chosen.
func defaultConfig() Config {
	return Config{
		Factors:              64,
		Iterations:           10,
		Regularization:       100,
		Alpha:                1,
		FactorRegularization: 0.01,
		UnobservedWeight:     0.03,
		SessionWeight:        0.5,
		SessionTime:          5 * time.Minute,
		SideWeight:           10,
		Seed:                 42,
		Workers:              0,
	}
}
