"""The training lab: parameters, trainer, jobs, saved runs and their figures."""
