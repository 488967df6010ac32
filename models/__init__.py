"""Neural models of caminos: the spectral autoencoder and the voice (trained with
`caminos train`)."""
