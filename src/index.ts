// Public library API of segment-any-bone. Each module exports plain typed data and functions.
export {};
