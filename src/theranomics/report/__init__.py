"""theranomics.report"""
