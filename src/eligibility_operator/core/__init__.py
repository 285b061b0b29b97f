"""The pure core: detection, evaluation, triage and admission decisions, with no Kopf and no client.

Six packages by concern, each importing only those below it (``.importlinter``, contract
``core-layers``): ``admission`` | ``requests`` -> ``verdict`` -> ``products`` -> ``compat`` -> ``base``.
"""
