"""theranomics.twin"""
