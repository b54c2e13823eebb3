"""theranomics.cli"""
