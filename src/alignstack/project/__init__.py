"""A project: one organisation's principles and the configs that turn them into an aligned
endpoint. `scaffold.init_project` writes one (`alignstack init`); `build.build_project` runs its
stages in order, resumably (`alignstack build`)."""
