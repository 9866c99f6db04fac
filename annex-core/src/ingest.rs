//! Adding files to the annex: locked files, pointer files, staging into the index.
