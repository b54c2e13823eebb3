"""theranomics.dosimetry"""
