"""The Gradio UI: one module a tab, plus the pieces several tabs share."""
