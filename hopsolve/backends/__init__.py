"""The built-in backends: exact enumeration, discrete Hopfield, stochastic annealing, Hopfield–Tank."""
