#include "fregan/infer/pipeline.h"

namespace fregan::infer {

SerialWorker::SerialWorker(size_t capacity) : capacity_(capacity), thread_([this] { run(); }) {}

SerialWorker::~SerialWorker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void SerialWorker::submit(std::function<void()> task) {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [&] { return tasks_.size() < capacity_ || error_; });
  rethrow_locked();
  tasks_.push_back(std::move(task));
  cv_.notify_all();
}

void SerialWorker::drain() {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [&] { return (tasks_.empty() && !busy_) || error_; });
  rethrow_locked();
}

void SerialWorker::rethrow_locked() {
  if (!error_) return;
  auto e = error_;
  error_ = nullptr;
  tasks_.clear();
  std::rethrow_exception(e);
}

void SerialWorker::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
    if (tasks_.empty()) return;  // stopping with nothing left
    auto task = std::move(tasks_.front());
    tasks_.pop_front();
    busy_ = true;
    lock.unlock();
    std::exception_ptr failure;
    try {
      task();
    } catch (...) {
      failure = std::current_exception();
    }
    lock.lock();
    busy_ = false;
    if (failure && !error_) error_ = failure;
    if (error_) tasks_.clear();
    cv_.notify_all();
  }
}

}  // namespace fregan::infer
