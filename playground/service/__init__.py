"""The model service: the one door to weights, shared by every lab.

Read ``model_service.py`` first: a registry of the models that run offline (packaged
pretrained weights, the small models this repo trains in ``assets/models``, and models a
student fine-tunes), how a model id resolves (app folder → packaged → hub), lazy and
thread-safe loading, and an LRU cache bounded in memory. ``validate.py`` holds the checks
every user input passes before it reaches a model.
"""
