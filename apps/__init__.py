"""Gradio apps."""
