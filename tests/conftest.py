import os
import warnings

# Composer and torch are chatty on CPU; keep test output readable.
os.environ.setdefault('TORCH_CPP_LOG_LEVEL', 'ERROR')
warnings.filterwarnings('ignore', category=UserWarning, module='composer')
