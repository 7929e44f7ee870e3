"""Scripts that use `zoo` to train, evaluate, tune and export models.

Data flows data -> model -> train -> export -> serve; this package owns the
train and export steps. It imports `zoo`; `zoo` never imports it.
"""
