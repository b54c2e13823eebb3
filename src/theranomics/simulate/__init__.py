"""theranomics.simulate"""
