"""Training, dataset preparation, evaluation and publishing for poster-vaegan.

Run `python -m train --help`; this package is not needed for inference.
"""
