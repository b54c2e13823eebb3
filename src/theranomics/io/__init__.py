"""theranomics.io"""
