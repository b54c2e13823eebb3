"""theranomics.registration"""
