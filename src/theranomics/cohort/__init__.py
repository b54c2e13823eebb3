"""theranomics.cohort"""
