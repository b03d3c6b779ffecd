"""Paper B's data stage: residual activations -> SAE features -> per-chunk firing sets ->
co-occurrence counts (Li et al. 2024, "Data" and "Co-occurrence histogram").

- ``chunking``: which token positions form the consecutive full chunks of each document.
- ``cooccurrence``: exact batched co-occurrence counts, plus the paper's per-chunk reference.
- ``sae``: getting one SAE per layer (pretrained / local / trained) as a SAELens object.
- ``extract``: the batched forward pass + SAE encoding + firing sets, and the training sample.
"""
