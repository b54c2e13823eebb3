"""theranomics.models"""
