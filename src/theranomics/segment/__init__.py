"""theranomics.segment"""
