"""theranomics.quant"""
