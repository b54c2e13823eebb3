"""theranomics.radiomics"""
