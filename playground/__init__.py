"""The core of Neural Playground: pure Python and torch, no Gradio."""
