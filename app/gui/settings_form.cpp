// SettingsForm: see settings_form.h.
#include "settings_form.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>

#include <climits>
#include <cmath>

namespace den2moe::ui {

namespace {

constexpr int kDecimals = 12;  // learning rates (1e-4) and epsilons (1e-8) keep their value

/// A number box that shows the schema's shortest text ("0.0001", "1e-08", "0.5") rather than a fixed
/// count of decimals, and reads any number back (range-checked by the box, then by the schema).
class RealSpinBox : public QDoubleSpinBox {
public:
    using QDoubleSpinBox::QDoubleSpinBox;
    QString textFromValue(double v) const override { return QString::fromStdString(den2moe::format_real(v)); }
    double valueFromText(const QString& text) const override { return text.trimmed().toDouble(); }
    QValidator::State validate(QString& text, int&) const override {
        const QString t = text.trimmed();
        if (t.isEmpty() || t == QLatin1String("-") || t.endsWith(QLatin1Char('e'), Qt::CaseInsensitive) ||
            t.endsWith(QLatin1String("e-"), Qt::CaseInsensitive) || t.endsWith(QLatin1Char('.'))) {
            return QValidator::Intermediate;
        }
        bool ok = false;
        const double v = t.toDouble(&ok);
        if (!ok) return QValidator::Invalid;
        return v >= minimum() && v <= maximum() ? QValidator::Acceptable : QValidator::Intermediate;
    }
};

/// A finite bound, moved inwards by `step` when open, limited to [lo, hi].
double bound(double v, bool open, double step, double lo, double hi, bool isMin) {
    if (!std::isfinite(v)) return isMin ? lo : hi;
    if (open) v += isMin ? step : -step;
    return std::max(lo, std::min(hi, v));
}

}  // namespace

void applyIntRange(QSpinBox* box, const den2moe::FieldInfo& f) {
    box->setRange(int(bound(f.min, f.min_open, 1, INT_MIN, INT_MAX, true)),
                  int(bound(f.max, f.max_open, 1, INT_MIN, INT_MAX, false)));
}

SettingsForm::SettingsForm(QWidget* parent) : QWidget(parent) {
    m_form = new QFormLayout(this);
    m_form->setContentsMargins(0, 0, 0, 0);
}

QString SettingsForm::defaultLabel(const den2moe::FieldInfo& f) {
    QString s = QString::fromStdString(f.flag);
    s.replace(QLatin1Char('-'), QLatin1Char(' '));
    if (!s.isEmpty()) s[0] = s[0].toUpper();
    return s;
}

void SettingsForm::addField(const den2moe::FieldInfo& f, const QString& label, const QMap<QString, QString>& titles) {
    const QString key = QString::fromStdString(f.key);
    QWidget* w = nullptr;
    switch (f.type) {
        case den2moe::FieldType::Int: {
            auto* box = new QSpinBox(this);
            applyIntRange(box, f);
            connect(box, &QSpinBox::valueChanged, this, [this, key](int v) {
                if (!m_filling) Q_EMIT edited(key, QString::number(v));
            });
            w = box;
            break;
        }
        case den2moe::FieldType::Real: {
            auto* box = new RealSpinBox(this);
            const double step = std::pow(10.0, -kDecimals);
            box->setDecimals(kDecimals);
            box->setRange(bound(f.min, f.min_open, step, -1e9, 1e9, true), bound(f.max, f.max_open, step, -1e9, 1e9, false));
            box->setSingleStep(box->maximum() - box->minimum() <= 1.0 ? 0.05 : 0.1);
            connect(box, &QDoubleSpinBox::valueChanged, this, [this, key](double v) {
                if (!m_filling) Q_EMIT edited(key, QString::fromStdString(den2moe::format_real(v)));
            });
            w = box;
            break;
        }
        case den2moe::FieldType::Bool: {
            auto* box = new QCheckBox(this);
            connect(box, &QCheckBox::toggled, this, [this, key](bool on) {
                if (!m_filling) Q_EMIT edited(key, on ? QStringLiteral("true") : QStringLiteral("false"));
            });
            w = box;
            break;
        }
        case den2moe::FieldType::Choice: {
            auto* box = new QComboBox(this);
            for (const std::string& c : f.choices) {
                const QString choice = QString::fromStdString(c);
                box->addItem(titles.value(choice, choice), choice);
            }
            connect(box, &QComboBox::currentIndexChanged, this, [this, key, box](int) {
                if (!m_filling) Q_EMIT edited(key, box->currentData().toString());
            });
            w = box;
            break;
        }
        case den2moe::FieldType::Text: {
            auto* edit = new QLineEdit(this);
            connect(edit, &QLineEdit::editingFinished, this, [this, key, edit] {
                if (!m_filling) Q_EMIT edited(key, edit->text());
            });
            w = edit;
            break;
        }
    }
    w->setObjectName(key);
    QString tip = QString::fromStdString(f.help);
    const QString range = QString::fromStdString(f.range_text());
    if ((f.type == den2moe::FieldType::Int || f.type == den2moe::FieldType::Real) && range != QLatin1String("any value"))
        tip += QStringLiteral(" (%1)").arg(range);
    w->setToolTip(tip);
    m_form->addRow(label, w);
    m_fields.insert(key, Field{f, w});
}

QWidget* SettingsForm::fieldWidget(const QString& key) const {
    const auto it = m_fields.find(key);
    return it == m_fields.end() ? nullptr : it->widget;
}

void SettingsForm::setValue(const QString& key, const QString& text) {
    const auto it = m_fields.find(key);
    if (it == m_fields.end()) return;
    const bool filling = m_filling;
    m_filling = true;
    QWidget* w = it->widget;
    if (auto* s = qobject_cast<QSpinBox*>(w)) {
        s->setValue(int(std::max<qlonglong>(s->minimum(), std::min<qlonglong>(s->maximum(), text.toLongLong()))));
    } else if (auto* d = qobject_cast<QDoubleSpinBox*>(w)) {
        d->setValue(text.toDouble());
    } else if (auto* c = qobject_cast<QCheckBox*>(w)) {
        c->setChecked(text == QLatin1String("true"));
    } else if (auto* c = qobject_cast<QComboBox*>(w)) {
        c->setCurrentIndex(c->findData(text));
    } else if (auto* e = qobject_cast<QLineEdit*>(w)) {
        e->setText(text);
    }
    m_filling = filling;
}

QString SettingsForm::value(const QString& key) const {
    QWidget* w = fieldWidget(key);
    if (auto* s = qobject_cast<QSpinBox*>(w)) return QString::number(s->value());
    if (auto* d = qobject_cast<QDoubleSpinBox*>(w)) return QString::fromStdString(den2moe::format_real(d->value()));
    if (auto* c = qobject_cast<QCheckBox*>(w)) return c->isChecked() ? QStringLiteral("true") : QStringLiteral("false");
    if (auto* c = qobject_cast<QComboBox*>(w)) return c->currentData().toString();
    if (auto* e = qobject_cast<QLineEdit*>(w)) return e->text();
    return {};
}

void SettingsForm::setFieldEnabled(const QString& key, bool enabled) {
    if (QWidget* w = fieldWidget(key)) {
        w->setEnabled(enabled);
        if (QWidget* label = m_form->labelForField(w)) label->setEnabled(enabled);
    }
}

QHBoxLayout* folderRow(QWidget* owner, QLineEdit* edit, const QString& title) {
    auto* button = new QPushButton(QStringLiteral("…"), owner);
    button->setMaximumWidth(32);
    button->setToolTip(title);
    QObject::connect(button, &QPushButton::clicked, owner, [owner, edit, title] {
        const QString d = QFileDialog::getExistingDirectory(owner, title, edit->text());
        if (!d.isEmpty()) {
            edit->setText(d);
            Q_EMIT edit->editingFinished();
        }
    });
    auto* row = new QHBoxLayout;
    row->addWidget(edit);
    row->addWidget(button);
    return row;
}

}  // namespace den2moe::ui
