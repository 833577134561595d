// SettingsForm: the widgets of a settings schema (engine/core/settings.h), generated from its fields —
// a spin box per integer or number with the field's range, a combo box per choice, a check box per
// switch, a line edit per text — with the field's one-line help as tooltip. Values travel as the
// schema's text (Schema::get_text / set_text), so the owner applies an edit with the schema's own
// parsing and range check; no range, default or choice list is written in app/.
#pragma once

#include "core/settings.h"

#include <QMap>
#include <QString>
#include <QVector>
#include <QWidget>

class QFormLayout;
class QHBoxLayout;
class QLineEdit;
class QSpinBox;

namespace den2moe::ui {

class SettingsForm : public QWidget {
    Q_OBJECT
public:
    explicit SettingsForm(QWidget* parent = nullptr);

    /// Adds a row for `field` labelled `label`; `choiceTitles` maps a choice to what the combo box
    /// shows (the choice itself when absent). The widget's objectName is the field's key.
    void addField(const den2moe::FieldInfo& field, const QString& label, const QMap<QString, QString>& choiceTitles = {});
    /// Every field of `schema` except those in `skip`; labels from `labels` (else the flag in words).
    template <class S>
    void addFields(const den2moe::Schema<S>& schema, const QMap<QString, QString>& labels,
                   const QStringList& skip = {}) {
        for (const den2moe::FieldInfo& f : schema.fields()) {
            const QString key = QString::fromStdString(f.key);
            if (!skip.contains(key)) addField(f, labels.value(key, defaultLabel(f)));
        }
    }
    /// Shows every field's value in `s` (no edited() signal).
    template <class S>
    void showValues(const den2moe::Schema<S>& schema, const S& s) {
        for (const den2moe::FieldInfo& f : schema.fields()) {
            setValue(QString::fromStdString(f.key), QString::fromStdString(schema.get_text(s, f.key)));
        }
    }

    QWidget* fieldWidget(const QString& key) const;
    bool hasField(const QString& key) const { return m_fields.contains(key); }
    /// Shows `text` in the field's widget without emitting edited().
    void setValue(const QString& key, const QString& text);
    /// The widget's value as the schema's text ("" for an unknown key).
    QString value(const QString& key) const;
    void setFieldEnabled(const QString& key, bool enabled);
    QFormLayout* formLayout() const { return m_form; }

    /// "top-k" -> "Top k".
    static QString defaultLabel(const den2moe::FieldInfo& field);

Q_SIGNALS:
    /// The user changed a field: its new value as text.
    void edited(const QString& key, const QString& text);

private:
    struct Field {
        den2moe::FieldInfo info;
        QWidget* widget = nullptr;
    };
    QMap<QString, Field> m_fields;
    QFormLayout* m_form = nullptr;
    bool m_filling = false;
};

/// `edit` with a "…" button that picks a folder (dialog titled `title`, starting at the edit's text);
/// a picked folder is set and editingFinished() emitted, as if typed. The row is parented by the caller.
QHBoxLayout* folderRow(QWidget* owner, QLineEdit* edit, const QString& title);

/// Gives a spin box the range of an integer field (open bounds moved inwards, clamped to int).
void applyIntRange(QSpinBox* box, const den2moe::FieldInfo& field);

}  // namespace den2moe::ui
