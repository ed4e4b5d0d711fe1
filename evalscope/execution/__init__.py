"""Running model-written programs: the sandbox (`sandbox`: bubblewrap, docker or none, with limits) and the pool that
runs them beside generation (`pool`)."""
